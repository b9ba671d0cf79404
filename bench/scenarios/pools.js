// Scenario (issue 18): bulkheads. Pool `slow` (1 thread, maxQueue 10) is hammered by a closed
// loop on a 200 ms route until most of its answers are 503s, while a paced probe measures a quick
// offloaded route: in a pool of its own (two pools) or in the same pool (one shared pool). "idle"
// is the probe alone, two pools. The quick route's p99 and its 503s tell whether the slow route's
// spike reaches it.
// Variant hook: the process-isolation work adds variants with env BENCH_FAST_ISOLATION=process
// (bench/servers/pools.js reads it) and, for the dispatch cost, its own trivial-route variants.
const server = new URL('../servers/pools.js', import.meta.url)

export default {
  name: 'pools',
  title: 'Bulkheads: a quick route\'s p99 beside a saturated slow pool (1 thread, maxQueue 10, 200 ms route), one shared pool vs two pools',
  inDefault: false,
  variants: (cfg) => [
    { name: 'idle', label: `two pools, slow pool idle (fast: ${cfg.threads} threads)`, script: server, env: { BENCH_POOLS: 'split' }, heavy: false },
    { name: 'split', label: `two pools, slow pool saturated (fast: ${cfg.threads} threads)`, script: server, env: { BENCH_POOLS: 'split' }, heavy: true },
    { name: 'shared', label: 'one shared pool (1 thread, maxQueue 10), saturated', script: server, env: { BENCH_POOLS: 'shared' }, heavy: true }
  ],
  columns: [
    { key: 'fastP50', label: 'quick p50 ms', digits: 2 },
    { key: 'fastP99', label: 'quick p99 ms', digits: 2 },
    { key: 'fastMax', label: 'quick max ms', digits: 1 },
    { key: 'fast503', label: 'quick 503s', digits: 0 },
    { key: 'slow503Pct', label: 'slow route 503 %', digits: 1 },
    { key: 'cpuUsPerReq', label: 'server CPU µs/req', digits: 0 },
    { key: 'failed', label: 'failed', digits: 0 }
  ],

  async warmup ({ cfg, srv, variant, loads }) {
    await loads[1].paced({ url: `${srv.origin}/trivial`, rate: cfg.rate, duration: cfg.warmup })
    if (variant.heavy) await loads[0].cannon({ url: `${srv.origin}/slow`, connections: cfg.heavyConnections * 2, duration: cfg.warmup })
  },

  async measure ({ cfg, srv, variant, loads }) {
    const probe = () => loads[1].paced({ url: `${srv.origin}/trivial`, rate: cfg.rate, duration: cfg.duration })
    let heavy
    let light
    if (variant.heavy) {
      // 2 × heavy-connections (16 by default) lanes: more than the slow pool's 1 + 10 places.
      const heavyRun = loads[0].cannon({ url: `${srv.origin}/slow`, connections: cfg.heavyConnections * 2, duration: cfg.duration + 1 })
      await new Promise((resolve) => setTimeout(resolve, 500))
      light = await probe()
      heavy = await heavyRun
    } else {
      light = await probe()
    }
    return {
      requests: light.requests + (heavy?.requests ?? 0),
      // The slow route's 503s are the point; the quick route's are counted on their own.
      failed: light.errors + (heavy?.errors ?? 0),
      fastP50: light.p50,
      fastP99: light.p99,
      fastMax: light.max,
      fast503: light.non2xx,
      slow503Pct: heavy === undefined ? NaN : 100 * heavy.non2xx / Math.max(heavy.requests, 1)
    }
  },

  summary (m) {
    const lines = []
    const idle = m.idle?.fastP99
    if (m.split !== undefined && idle !== undefined) {
      const ratio = m.split.fastP99 / idle
      lines.push(`two pools: quick p99 ${m.split.fastP99.toFixed(2)} ms = ${ratio.toFixed(2)}× idle (${idle.toFixed(2)} ms; target ≤ 3×: ${ratio <= 3 ? 'met' : 'NOT met'}), ${m.split.fast503} quick 503s`)
    }
    if (m.shared !== undefined) {
      const p99 = Number.isFinite(m.shared.fastP99) ? `quick p99 ${m.shared.fastP99.toFixed(1)} ms` : 'no quick request answered 200'
      lines.push(`one shared pool: ${p99}, ${m.shared.fast503} quick 503s`)
    }
    return lines
  }
}
