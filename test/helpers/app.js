// Starts a real Fastify app with fastify-mpm on 127.0.0.1:0 and talks to it over real HTTP.
import Fastify from 'fastify'
import mpm from 'fastify-mpm'
import { Agent, request } from 'undici'
import { captureLogs } from './logs.js'

/** URL of a handler module under test/fixtures/handlers. */
export function fixture (name) {
  return new URL(`../fixtures/handlers/${name}`, import.meta.url)
}

/**
 * @param {object | null} [mpmOptions] fastify-mpm options; null registers no plugin
 * @param {(app: import('fastify').FastifyInstance) => void | Promise<void>} [routes] adds routes
 * @param {{ fastify?: object, logLevel?: string, listen?: boolean }} [extra]
 *   fastify: extra Fastify options; logLevel: level of the captured log (default 'info')
 * @returns {Promise<{ app, url: string, logs: ReturnType<typeof captureLogs>,
 *   request: (path: string, opts?: object) => Promise<Response>, close: () => Promise<void> }>}
 *   `request` uses a keep-alive client owned by this app; `close` closes app and client.
 */
export async function startApp (mpmOptions = {}, routes = () => {}, extra = {}) {
  const logs = captureLogs()
  const app = Fastify({ logger: { level: extra.logLevel ?? 'info', stream: logs.stream }, ...extra.fastify })
  if (mpmOptions !== null) await app.register(mpm, mpmOptions)
  await routes(app)
  let url = ''
  if (extra.listen !== false) {
    const address = await app.listen({ host: '127.0.0.1', port: 0 })
    url = address
  } else {
    await app.ready()
  }
  const agent = new Agent({ connections: 64, pipelining: 1 })
  let closed = false
  return {
    app,
    url,
    logs,
    agent,
    request: (path, opts = {}) => send(url + path, { dispatcher: agent, ...opts }),
    /** Closes the app, then the client; a close held open past `graceMs` has its client connections cut. */
    async close (graceMs) {
      if (closed) return
      // `t.after(srv.close)` passes the TestContext: only a number is a grace period.
      const grace = typeof graceMs === 'number' ? graceMs : 10_000
      closed = true
      const cut = setTimeout(() => { agent.destroy().catch(() => {}) }, grace)
      try {
        await app.close()
      } finally {
        clearTimeout(cut)
        await agent.close().catch(() => {})
      }
    }
  }
}

/**
 * One HTTP request with undici; reads the whole body.
 * @returns {Promise<{ status: number, headers: object, body: Buffer, text: string, json: () => any }>}
 */
export async function send (url, opts = {}) {
  const { json, ...rest } = opts
  if (json !== undefined) {
    rest.method ??= 'POST'
    rest.body = JSON.stringify(json)
    rest.headers = { 'content-type': 'application/json', ...rest.headers }
  }
  const res = await request(url, rest)
  const body = Buffer.from(await res.body.arrayBuffer())
  const text = body.toString('utf8')
  return {
    status: res.statusCode,
    headers: res.headers,
    body,
    text,
    json: () => JSON.parse(text)
  }
}
