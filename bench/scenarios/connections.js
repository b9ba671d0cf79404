// Idle keep-alive connections (issue 9, `--only connections`): the RSS a fastify-mpm process
// gains while it holds N idle keep-alive connections (each has had one answer and sits open).
// A Node process's event loop holds them like Apache's event MPM listener does; Apache's worker
// MPM would tie up one thread per connection. The server's own status page confirms they are
// all counted as keep-alive and that no thread is busy.
import { connect } from 'node:net'

const script = new URL('../servers/connections.js', import.meta.url)
const MB = 2 ** 20
const BATCH = 100
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** One connection that sent `GET /hello` and got its whole answer; rejects after 15 s. */
function keepAlive (port) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port })
    let received = ''
    socket.setTimeout(15_000, () => { socket.destroy(); reject(new Error('no answer within 15 s')) })
    socket.once('error', reject)
    socket.once('connect', () => socket.write('GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'))
    socket.on('data', function onData (chunk) {
      received += chunk.toString('latin1')
      if (!received.includes('"world"}')) return
      socket.off('data', onData)
      socket.setTimeout(0)
      resolve(socket)
    })
  })
}

async function statusJson (origin) {
  const res = await fetch(`${origin}/server-status?json`, { headers: { connection: 'close' } })
  return await res.json()
}

export default {
  name: 'connections',
  title: 'Idle keep-alive connections: RSS growth of one process holding them',
  inDefault: false,
  variants: (cfg) => [{ name: 'mpm', label: `1 process × ${cfg.threads} threads, status on`, script }],
  columns: [
    { key: 'held', label: 'connections held', digits: 0 },
    { key: 'keepAlive', label: 'counted keep-alive', digits: 0 },
    { key: 'busy', label: 'threads busy', digits: 0 },
    { key: 'rssBeforeMB', label: 'RSS before MB', digits: 1 },
    { key: 'rssGrowthMB', label: 'RSS growth MB', digits: 1 },
    { key: 'kbPerConnection', label: 'kB/connection', digits: 1 },
    { key: 'failed', label: 'failed', digits: 0 }
  ],

  async warmup ({ cfg, srv, loads }) {
    // The HTTP path compiled and the heap grown to its working size before the baseline.
    await loads[0].cannon({ url: `${srv.origin}/hello`, connections: cfg.connections, duration: cfg.warmup })
    await statusJson(srv.origin)
  },

  async measure ({ cfg, srv }) {
    const n = cfg.heldConnections
    await sleep(500)
    const before = (await srv.usage()).rss
    const sockets = []
    let failed = 0
    try {
      for (let i = 0; i < n; i += BATCH) {
        const batch = await Promise.allSettled(Array.from({ length: Math.min(BATCH, n - i) }, () => keepAlive(srv.port)))
        for (const r of batch) if (r.status === 'fulfilled') sockets.push(r.value); else failed++
      }
      await sleep(1000)
      const after = (await srv.usage()).rss
      const status = await statusJson(srv.origin)
      return {
        requests: sockets.length,
        failed,
        held: sockets.length,
        keepAlive: status.totals.connections.keepAlive,
        busy: status.totals.busy,
        rssBeforeMB: before / MB,
        rssGrowthMB: (after - before) / MB,
        kbPerConnection: (after - before) / 1024 / Math.max(sockets.length, 1)
      }
    } finally {
      for (const socket of sockets) socket.destroy()
      await sleep(500)
    }
  },

  summary (m, cfg) {
    const v = m.mpm
    if (v === undefined) return []
    return [`holding ${cfg.heldConnections} idle keep-alive connections grew the process's RSS by ${v.rssGrowthMB.toFixed(1)} MB ` +
      `(${v.kbPerConnection.toFixed(1)} kB each; goal < 30 MB) with ${v.busy} threads busy; ` +
      `the status page counted ${v.keepAlive} keep-alive. Apache's worker MPM would need ${cfg.heldConnections} threads for them.`]
  }
}
