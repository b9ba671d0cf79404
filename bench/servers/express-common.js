// What every Express benchmark server shares, as common.js does for Fastify: an Express 5 app
// with the light inline `/hello` route, the variant's `/trivial` and `/cpu` routes (added by
// `build`), on 127.0.0.1:0, and the same IPC link to the orchestrator (port, usage, clean stop).
import { createServer } from 'node:http'
import { performance } from 'node:perf_hooks'
import express from 'express'

export async function serveExpress (build) {
  const app = express()
  // Express's defaults a production app turns off or never notices: off here, for every variant alike.
  app.disable('x-powered-by').set('etag', false)
  app.get('/hello', (req, res) => { res.json({ hello: 'world' }) })
  const close = await build(app)
  const server = createServer(app)
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))

  let closing = false
  const stop = async () => {
    if (closing) return
    closing = true
    const timer = setTimeout(() => process.exit(1), 10_000)
    timer.unref()
    try {
      server.close()
      server.closeAllConnections()
      await close?.()
    } finally { process.exit(0) }
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  process.on('disconnect', stop)
  process.on('message', (msg) => {
    if (msg?.cmd !== 'usage') return
    const { user, system } = process.cpuUsage()
    const mainMs = performance.eventLoopUtilization().active
    process.send({ id: msg.id, usage: { cpuUs: user + system, mainMs, rss: process.memoryUsage().rss } })
  })
  process.send({ ready: true, port: server.address().port, pid: process.pid })
}
