// Scenario 2 (issues 2 and 11): dispatch overhead. A trivial route (returns a tiny object)
// inline, and sent to a thread by a hand-written tinypool.run() (useAtomics on, tinypool's
// default, and off, as the plugin's threads run), by fastify-piscina's runTask, and by
// fastify-mpm's offload(); at `--connections` (10) here and at `--deep-connections` (50) in
// `dispatch-deep`, where requests wait in the pools' queues. BENCH_MPM_BASELINE=<dir> adds
// offload() from another checkout's build (its bench/servers/mpm.js), for before/after runs.
const server = (name) => new URL(`../servers/${name}.js`, import.meta.url)

export const dispatchColumns = [
  { key: 'rps', label: 'req/s', digits: 0 },
  { key: 'p50', label: 'p50 ms', digits: 2 },
  { key: 'p99', label: 'p99 ms', digits: 2 },
  { key: 'cpuUsPerReq', label: 'server CPU µs/req', digits: 0 },
  { key: 'mainUsPerReq', label: 'main loop µs/req', digits: 0 },
  { key: 'failed', label: 'failed', digits: 0 }
]

export function dispatchWarmup ({ cfg, srv, loads }, connections = cfg.connections) {
  return loads[0].cannon({ url: `${srv.origin}/trivial`, connections, duration: cfg.warmup })
}

export async function dispatchMeasure ({ cfg, srv, loads }, connections = cfg.connections) {
  const r = await loads[0].cannon({ url: `${srv.origin}/trivial`, connections, duration: cfg.duration })
  return { requests: r.requests, failed: r.errors + r.non2xx, rps: r.rps, p50: r.p50, p99: r.p99 }
}

const ratio = (a, b) => a / b

export function dispatchVariants ({ noAtomics }) {
  const list = [
    { name: 'inline', label: 'inline handler', script: server('inline') },
    { name: 'tinypool', label: 'tinypool.run() (useAtomics: true)', script: server('tinypool') },
    { name: 'piscina', label: 'fastify-piscina runTask', script: server('piscina') },
    { name: 'mpm', label: 'fastify-mpm offload()', script: server('mpm') }
  ]
  if (noAtomics) list.splice(2, 0, { name: 'tinypool-noatomics', label: 'tinypool.run() (useAtomics: false)', script: server('tinypool'), env: { BENCH_ATOMICS: '0' } })
  const baseline = process.env.BENCH_MPM_BASELINE
  if (baseline) list.push({ name: 'mpm-baseline', label: `offload(), baseline build (${baseline})`, script: new URL(`file://${baseline.replace(/\/$/, '')}/bench/servers/mpm.js`) })
  return list
}

/** Issue 11's targets: offload() ≥ 1.0× both peers' req/s; goal beyond: CPU/req ≤ 1.5× inline. */
function summary (m, connections) {
  const lines = []
  const { mpm, tinypool, piscina, inline } = m
  const noAtomics = m['tinypool-noatomics']
  const at = `${connections} connections`
  if (mpm && tinypool) {
    const r = ratio(mpm.rps, tinypool.rps)
    lines.push(`${at}: offload() / tinypool.run() (defaults) req/s = ${r.toFixed(2)} (target ≥ 1.0: ${r >= 1 ? 'met' : 'NOT met'}); CPU/req ${ratio(mpm.cpuUsPerReq, tinypool.cpuUsPerReq).toFixed(2)}×`)
  }
  if (mpm && piscina) {
    const r = ratio(mpm.rps, piscina.rps)
    lines.push(`${at}: offload() / fastify-piscina runTask req/s = ${r.toFixed(2)} (target ≥ 1.0: ${r >= 1 ? 'met' : 'NOT met'}); CPU/req ${ratio(mpm.cpuUsPerReq, piscina.cpuUsPerReq).toFixed(2)}×`)
  }
  if (mpm && inline) {
    const r = ratio(mpm.cpuUsPerReq, inline.cpuUsPerReq)
    lines.push(`${at}: offload() server CPU/req = ${r.toFixed(2)}× inline (goal ≤ 1.5×: ${r <= 1.5 ? 'met' : 'NOT met'})`)
  }
  if (mpm && noAtomics) lines.push(`${at}: offload() / tinypool.run() with useAtomics: false req/s = ${ratio(mpm.rps, noAtomics.rps).toFixed(2)}; CPU/req ${ratio(mpm.cpuUsPerReq, noAtomics.cpuUsPerReq).toFixed(2)}×`)
  if (tinypool && noAtomics) lines.push(`${at}: useAtomics: false costs tinypool ${(noAtomics.cpuUsPerReq - tinypool.cpuUsPerReq).toFixed(0)} µs CPU/req; req/s ${ratio(noAtomics.rps, tinypool.rps).toFixed(2)}× of useAtomics: true`)
  const baseline = m['mpm-baseline']
  if (mpm && baseline) lines.push(`${at}: offload() / the baseline build's req/s = ${ratio(mpm.rps, baseline.rps).toFixed(2)}; CPU/req ${(mpm.cpuUsPerReq - baseline.cpuUsPerReq).toFixed(0)} µs`)
  return lines
}

export default {
  name: 'dispatch',
  title: 'Dispatch overhead: a trivial route inline and through a thread pool',
  inDefault: true,
  variants: () => dispatchVariants({ noAtomics: true }),
  columns: dispatchColumns,
  warmup: (ctx) => dispatchWarmup(ctx),
  measure: (ctx) => dispatchMeasure(ctx),
  summary: (m, cfg) => summary(m, cfg.connections)
}

export const dispatchDeep = {
  name: 'dispatch-deep',
  title: 'Dispatch overhead with a deep queue: the same trivial route at --deep-connections',
  inDefault: true,
  variants: () => dispatchVariants({ noAtomics: false }),
  columns: dispatchColumns,
  warmup: (ctx) => dispatchWarmup(ctx, ctx.cfg.deepConnections),
  measure: (ctx) => dispatchMeasure(ctx, ctx.cfg.deepConnections),
  summary: (m, cfg) => summary(m, cfg.deepConnections)
}
