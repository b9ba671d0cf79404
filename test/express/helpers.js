// Starts an Express app (5 or 4) with fastify-mpm/express on 127.0.0.1:0 and talks to it over
// real HTTP; every contract test runs once per Express major through EXPRESSES.
import { createServer } from 'node:http'
import express5 from 'express'
import express4 from 'express4'
import { createMpm } from 'fastify-mpm/express'
import { pino } from 'pino'
import { Agent } from 'undici'
import { send } from '../helpers/app.js'
import { captureLogs } from '../helpers/logs.js'

export const EXPRESSES = [['Express 5', express5], ['Express 4', express4]]

/**
 * @param {Function} express the framework (express5 or express4)
 * @param {object} mpmOptions createMpm() options (a captured pino logger is added unless given)
 * @param {(app, mpm) => void | Promise<void>} routes mounts middleware and routes
 */
export async function startExpress (express, mpmOptions, routes) {
  const logs = captureLogs()
  const mpm = createMpm({ logger: pino({ level: 'info' }, logs.stream), ...mpmOptions })
  const app = express()
  // Express's default handler prints every 5xx's stack unless env is 'test'; the tests read answers.
  app.set('env', 'test')
  await routes(app, mpm)
  await mpm.ready()
  const server = createServer(app)
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${server.address().port}`
  const agent = new Agent({ connections: 64, pipelining: 1 })
  let closed = false
  return {
    app,
    mpm,
    server,
    url,
    logs,
    agent,
    request: (path, opts = {}) => send(url + path, { dispatcher: agent, ...opts }),
    /** The two lines of a graceful stop, then the client; connections still open after `graceMs` are cut. */
    async close (graceMs) {
      if (closed) return
      // `t.after(srv.close)` passes the TestContext: only a number is a grace period.
      const grace = typeof graceMs === 'number' ? graceMs : 10_000
      closed = true
      const cut = setTimeout(() => { server.closeAllConnections(); agent.destroy().catch(() => {}) }, grace)
      try {
        server.close()
        await mpm.close()
      } finally {
        clearTimeout(cut)
        server.closeAllConnections()
        await agent.close().catch(() => {})
      }
    }
  }
}
