// Scenario (issue 15): a short route that is sometimes slow. Every 50th request a thread runs
// takes 200 ms (bench/handlers/sometimes-slow.js), the rest return at once. A pool that binds
// queued requests to a busy thread (a batch behind the slow one) makes the fast ones wait the
// 200 ms while another thread could take them; the fast requests' p99 shows it. Compared with a
// hand-written tinypool.run() and fastify-piscina, which hand each task to the next free thread.
// The load is steady, --slow-rate req/s over --connections paced lanes (bench/lib/loadgen.js):
// a closed loop would keep every thread busy with slow requests (each costs 4 ms on average),
// and every pool's fast requests would then wait the 200 ms alike.
const server = (name) => new URL(`../servers/${name}.js`, import.meta.url)

const columns = [
  { key: 'rps', label: 'req/s', digits: 0 },
  { key: 'fastP50', label: 'fast p50 ms', digits: 2 },
  { key: 'fastP99', label: 'fast p99 ms', digits: 2 },
  { key: 'p99', label: 'all p99 ms', digits: 1 },
  { key: 'cpuUsPerReq', label: 'server CPU µs/req', digits: 0 },
  { key: 'failed', label: 'failed', digits: 0 }
]

const run = async ({ cfg, srv, loads }, duration) => {
  const r = await loads[0].paced({ url: `${srv.origin}/sometimes-slow`, rate: cfg.slowRate, connections: cfg.connections, duration })
  return { requests: r.requests, failed: r.errors + r.non2xx, rps: r.rps, p99: r.p99, fastP50: r.fastP50, fastP99: r.fastP99 }
}

export default {
  name: 'dispatch-slow',
  title: 'A short route that is sometimes slow (1 in 50 takes 200 ms): the fast requests\' latency',
  inDefault: true,
  variants: () => [
    { name: 'tinypool', label: 'tinypool.run() (useAtomics: true)', script: server('tinypool') },
    { name: 'piscina', label: 'fastify-piscina runTask', script: server('piscina') },
    { name: 'mpm', label: 'fastify-mpm offload()', script: server('mpm') }
  ],
  columns,
  warmup: (ctx) => run(ctx, ctx.cfg.warmup),
  measure: (ctx) => run(ctx, ctx.cfg.duration),
  summary (m, cfg) {
    const { mpm, tinypool, piscina } = m
    const lines = []
    if (mpm && tinypool) lines.push(`${cfg.slowRate} req/s over ${cfg.connections} connections: offload() fast-request p99 ${mpm.fastP99.toFixed(2)} ms vs tinypool.run() ${tinypool.fastP99.toFixed(2)} ms (${(mpm.fastP99 / tinypool.fastP99).toFixed(2)}×; no worse: ${mpm.fastP99 <= tinypool.fastP99 ? 'yes' : 'no'})`)
    if (mpm && piscina) lines.push(`${cfg.slowRate} req/s over ${cfg.connections} connections: offload() fast-request p99 vs fastify-piscina ${piscina.fastP99.toFixed(2)} ms (${(mpm.fastP99 / piscina.fastP99).toFixed(2)}×)`)
    return lines
  }
}
