// Issue 19: what the advisor (per-route event-loop time) costs a trivial inline route, the worst
// case for it (the least work per request to hide its timing in). The same server with the
// advisor on and off, interleaved, for Fastify and for Express. Target: ≤ 3 % of req/s.
import { dispatchColumns, dispatchMeasure, dispatchWarmup } from './dispatch.js'

const server = (name) => new URL(`../servers/${name}.js`, import.meta.url)

export default {
  name: 'advisor',
  title: 'Advisor cost: a trivial inline route with the advisor on vs off',
  inDefault: false,
  variants: () => [
    { name: 'fastify-off', label: 'Fastify, advisor: false', script: server('advisor'), env: { BENCH_ADVISOR: '0' } },
    { name: 'fastify-on', label: 'Fastify, advisor on', script: server('advisor') },
    { name: 'express-off', label: 'Express, advisor: false', script: server('express-advisor'), env: { BENCH_ADVISOR: '0' } },
    { name: 'express-on', label: 'Express, advisor on', script: server('express-advisor') }
  ],
  columns: dispatchColumns,
  warmup: (ctx) => dispatchWarmup(ctx),
  measure: (ctx) => dispatchMeasure(ctx),
  summary (m) {
    const lines = []
    for (const fw of ['fastify', 'express']) {
      const on = m[`${fw}-on`]
      const off = m[`${fw}-off`]
      if (on === undefined || off === undefined) continue
      const cost = 1 - on.rps / off.rps
      lines.push(`${fw}: advisor on / off req/s = ${(on.rps / off.rps).toFixed(3)} (cost ${(cost * 100).toFixed(1)} %, target ≤ 3 %: ${cost <= 0.03 ? 'met' : 'NOT met'}); ` +
        `server CPU ${(on.cpuUsPerReq - off.cpuUsPerReq).toFixed(1)} µs/req, main loop ${(on.mainUsPerReq - off.mainUsPerReq).toFixed(1)} µs/req more`)
    }
    return lines
  }
}
