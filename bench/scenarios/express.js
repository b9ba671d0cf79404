// Express (issue 8): the two headline comparisons, for fastify-mpm/express. Protection: the light
// `/hello` p99 beside a saturated ~20 ms CPU route, inline vs mpm.offload() (idle = probe alone),
// as in protection.js. Dispatch: a trivial route through mpm.offload() vs a hand-written
// tinypool.run() in an Express handler (useAtomics on, tinypool's default, and off, as
// fastify-mpm runs), as in dispatch.js. Same load, same measurements; Express 5 servers.
import { dispatchMeasure, dispatchWarmup } from './dispatch.js'
import protection from './protection.js'

const server = (name) => new URL(`../servers/${name}.js`, import.meta.url)

export default {
  name: 'express',
  title: 'Express: light route latency beside a saturated CPU route, and dispatch cost vs tinypool.run()',
  inDefault: false,
  needsCpuRoute: true,
  variants: (cfg) => [
    { name: 'idle', label: 'protection: idle (no CPU load)', script: server('express-mpm'), heavy: false },
    { name: 'inline', label: 'protection: CPU route inline', script: server('express-inline'), heavy: true },
    { name: 'mpm', label: `protection: CPU route mpm.offload() (${cfg.threads} threads)`, script: server('express-mpm'), heavy: true },
    { name: 'tinypool', label: 'dispatch: tinypool.run() (useAtomics: true)', script: server('express-tinypool'), dispatch: true },
    { name: 'tinypool-noatomics', label: 'dispatch: tinypool.run() (useAtomics: false)', script: server('express-tinypool'), env: { BENCH_ATOMICS: '0' }, dispatch: true },
    { name: 'offload', label: 'dispatch: mpm.offload()', script: server('express-mpm'), dispatch: true }
  ],
  columns: [
    { key: 'lightP99', label: '/hello p99 ms', digits: 2 },
    { key: 'lightMax', label: '/hello max ms', digits: 1 },
    { key: 'cpuRps', label: 'CPU route req/s', digits: 0 },
    { key: 'rps', label: 'trivial req/s', digits: 0 },
    { key: 'p99', label: 'trivial p99 ms', digits: 2 },
    { key: 'cpuUsPerReq', label: 'server CPU µs/req', digits: 0 },
    { key: 'failed', label: 'failed', digits: 0 }
  ],

  async warmup (ctx) {
    if (ctx.variant.dispatch) await dispatchWarmup(ctx)
    else await protection.warmup(ctx)
  },

  async measure (ctx) {
    return ctx.variant.dispatch ? await dispatchMeasure(ctx) : await protection.measure(ctx)
  },

  summary (m) {
    const lines = []
    const idle = m.idle?.lightP99
    if (m.mpm !== undefined && idle !== undefined) {
      const ratio = m.mpm.lightP99 / idle
      lines.push(`Express, offloaded CPU route: /hello p99 = ${ratio.toFixed(2)}× idle p99 (target ≤ 3×: ${ratio <= 3 ? 'met' : 'NOT met'})`)
    }
    if (m.inline !== undefined && idle !== undefined) lines.push(`Express, inline CPU route: /hello p99 = ${(m.inline.lightP99 / idle).toFixed(1)}× idle p99`)
    const { offload, tinypool } = m
    const noAtomics = m['tinypool-noatomics']
    if (offload && tinypool) {
      const r = offload.rps / tinypool.rps
      lines.push(`mpm.offload() / tinypool.run() req/s = ${r.toFixed(2)} (target ≥ 0.95: ${r >= 0.95 ? 'met' : 'NOT met'}); CPU/req ${(offload.cpuUsPerReq / tinypool.cpuUsPerReq).toFixed(2)}×`)
    }
    if (offload && noAtomics) lines.push(`mpm.offload() / tinypool.run() with useAtomics: false req/s = ${(offload.rps / noAtomics.rps).toFixed(2)}; CPU/req ${(offload.cpuUsPerReq / noAtomics.cpuUsPerReq).toFixed(2)}×`)
    return lines
  }
}
