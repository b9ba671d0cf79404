// Scenario 2 (issue 2): dispatch overhead. A trivial route (returns a tiny object) inline, and
// sent to a thread by a hand-written tinypool.run() (useAtomics on, tinypool's default, and off,
// as the plugin must run), by fastify-piscina's runTask, and by fastify-mpm's offload().
const server = (name) => new URL(`../servers/${name}.js`, import.meta.url)

export const dispatchColumns = [
  { key: 'rps', label: 'req/s', digits: 0 },
  { key: 'p50', label: 'p50 ms', digits: 2 },
  { key: 'p99', label: 'p99 ms', digits: 2 },
  { key: 'cpuUsPerReq', label: 'server CPU µs/req', digits: 0 },
  { key: 'mainUsPerReq', label: 'main loop µs/req', digits: 0 },
  { key: 'failed', label: 'failed', digits: 0 }
]

export async function dispatchWarmup ({ cfg, srv, loads }) {
  await loads[0].cannon({ url: `${srv.origin}/trivial`, connections: cfg.connections, duration: cfg.warmup })
}

export async function dispatchMeasure ({ cfg, srv, loads }) {
  const r = await loads[0].cannon({ url: `${srv.origin}/trivial`, connections: cfg.connections, duration: cfg.duration })
  return { requests: r.requests, failed: r.errors + r.non2xx, rps: r.rps, p50: r.p50, p99: r.p99 }
}

const ratio = (a, b) => a / b

export default {
  name: 'dispatch',
  title: 'Dispatch overhead: a trivial route inline and through a thread pool',
  inDefault: true,
  variants: (cfg) => [
    { name: 'inline', label: 'inline handler', script: server('inline') },
    { name: 'tinypool', label: 'tinypool.run() (useAtomics: true)', script: server('tinypool') },
    { name: 'tinypool-noatomics', label: 'tinypool.run() (useAtomics: false)', script: server('tinypool'), env: { BENCH_ATOMICS: '0' } },
    { name: 'piscina', label: 'fastify-piscina runTask', script: server('piscina') },
    { name: 'mpm', label: 'fastify-mpm offload()', script: server('mpm') }
  ],
  columns: dispatchColumns,
  warmup: dispatchWarmup,
  measure: dispatchMeasure,

  summary (m) {
    const lines = []
    const { mpm, tinypool, piscina } = m
    const noAtomics = m['tinypool-noatomics']
    if (mpm && tinypool) {
      const r = ratio(mpm.rps, tinypool.rps)
      lines.push(`offload() / tinypool.run() req/s = ${r.toFixed(2)} (target ≥ 0.95: ${r >= 0.95 ? 'met' : 'NOT met'}); CPU/req ${ratio(mpm.cpuUsPerReq, tinypool.cpuUsPerReq).toFixed(2)}×`)
    }
    if (mpm && noAtomics) lines.push(`offload() / tinypool.run() with useAtomics: false (the plugin's setting) req/s = ${ratio(mpm.rps, noAtomics.rps).toFixed(2)}; CPU/req ${ratio(mpm.cpuUsPerReq, noAtomics.cpuUsPerReq).toFixed(2)}×`)
    if (mpm && piscina) lines.push(`offload() / fastify-piscina runTask req/s = ${ratio(mpm.rps, piscina.rps).toFixed(2)}; CPU/req ${ratio(mpm.cpuUsPerReq, piscina.cpuUsPerReq).toFixed(2)}×`)
    if (tinypool && noAtomics) lines.push(`useAtomics: false costs tinypool ${(noAtomics.cpuUsPerReq - tinypool.cpuUsPerReq).toFixed(0)} µs CPU/req; req/s ${ratio(noAtomics.rps, tinypool.rps).toFixed(2)}× of useAtomics: true`)
    return lines
  }
}
