// Scenario 1 (issue 2): event-loop protection. A ~20 ms CPU route is hammered by a closed loop
// of N connections while an open-loop probe measures the light inline `/hello` route. The CPU
// route runs inline on the main thread or offloaded with fastify-mpm; "idle" is the probe alone.
const server = (name) => new URL(`../servers/${name}.js`, import.meta.url)

export default {
  name: 'protection',
  title: 'Event-loop protection: light route latency while a ~20 ms CPU route is hammered',
  inDefault: true,
  needsCpuRoute: true,
  variants: (cfg) => [
    { name: 'idle', label: 'idle (no CPU load)', script: server('mpm'), light: true, heavy: false },
    { name: 'inline', label: 'CPU route inline', script: server('inline'), heavy: true },
    { name: 'mpm', label: `CPU route offload() (${cfg.threads} threads)`, script: server('mpm'), heavy: true }
  ],
  columns: [
    { key: 'lightP50', label: '/hello p50 ms', digits: 2 },
    { key: 'lightP99', label: '/hello p99 ms', digits: 2 },
    { key: 'lightMax', label: '/hello max ms', digits: 1 },
    { key: 'cpuRps', label: 'CPU route req/s', digits: 0 },
    { key: 'cpuUsPerReq', label: 'server CPU µs/req', digits: 0 },
    { key: 'failed', label: 'failed', digits: 0 }
  ],

  async warmup ({ cfg, srv, variant, loads }) {
    await loads[0].cannon({ url: `${srv.origin}/hello`, connections: 2, duration: cfg.warmup })
    if (variant.heavy) await loads[0].cannon({ url: `${srv.origin}/cpu`, connections: cfg.heavyConnections, duration: cfg.warmup })
  },

  async measure ({ cfg, srv, variant, loads }) {
    const probe = () => loads[1].paced({ url: `${srv.origin}/hello`, rate: cfg.rate, duration: cfg.duration })
    let heavy
    let light
    if (variant.heavy) {
      // The probe runs inside the heavy load's window, after it has reached steady state.
      const heavyRun = loads[0].cannon({ url: `${srv.origin}/cpu`, connections: cfg.heavyConnections, duration: cfg.duration + 1 })
      await new Promise((resolve) => setTimeout(resolve, 500))
      light = await probe()
      heavy = await heavyRun
    } else {
      light = await probe()
    }
    return {
      requests: light.requests + (heavy?.requests ?? 0),
      failed: light.errors + light.non2xx + (heavy ? heavy.errors + heavy.non2xx : 0),
      lightP50: light.p50,
      lightP99: light.p99,
      lightMax: light.max,
      lightRps: light.rps,
      cpuRps: heavy?.rps ?? NaN,
      cpuP99: heavy?.p99 ?? NaN
    }
  },

  summary (m) {
    const idle = m.idle?.lightP99
    const lines = []
    if (m.mpm !== undefined && idle !== undefined) {
      const ratio = m.mpm.lightP99 / idle
      lines.push(`offloaded /hello p99 = ${ratio.toFixed(2)}× idle p99 (target ≤ 3×: ${ratio <= 3 ? 'met' : 'NOT met'})`)
    }
    if (m.inline !== undefined && idle !== undefined) lines.push(`inline /hello p99 = ${(m.inline.lightP99 / idle).toFixed(1)}× idle p99`)
    if (m.inline !== undefined && m.mpm !== undefined) lines.push(`offloading cuts /hello p99 ${(m.inline.lightP99 / m.mpm.lightP99).toFixed(1)}× (inline ${m.inline.lightP99.toFixed(1)} ms → ${m.mpm.lightP99.toFixed(2)} ms)`)
    return lines
  }
}
