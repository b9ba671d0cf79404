// What the cluster child needs of the app its module builds, whatever the framework: a server to
// listen on and drain, a close, and the worker MPMs inside (ready before listening, told the kill
// deadline, closed after the server). A Fastify instance brings its own (app.mpm, closed with the
// app); an Express app or a plain http.Server brings the ones createMpm() registered.

import { createServer, type RequestListener, type Server } from 'node:http'
import { Server as NetServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { standaloneMpms, type Standalone } from '../core/lifecycle.js'

export interface ChildApp {
  server: Server
  listen: (port: number, host: string) => Promise<void>
  close: () => Promise<void>
  /** ms in Retry-After of the 503s sent just before a kill. */
  retryAfter: number
  /** Threads per process, for the primary's log; null when the app has no worker MPM. */
  threads: { min: number, max: number } | null
  /** Threads and process slots of all its pools at most, for the oversubscription check; 0 without a worker MPM. */
  slots: number
  /** The kill deadline: requests still running then are answered 503 before it. */
  closeBefore: (deadline: number) => void
}

interface FastifyLike {
  server: Server
  listen: (opts: { port: number, host: string }) => Promise<unknown>
  close: () => Promise<unknown>
  mpm?: { options: { retryAfter: number, minThreads: number, maxThreads: number }, closeBefore: (deadline: number) => void, pools?: { maxSlots: () => number } }
}

function describe (href: string): string {
  return href.startsWith('file:') ? fileURLToPath(href) : href
}

export async function buildChildApp (href: string): Promise<ChildApp> {
  const mod = await import(href) as { default?: unknown }
  const build = mod.default
  if (typeof build !== 'function') {
    throw new TypeError(`app module ${describe(href)} must default-export a function that builds and returns a Fastify instance, an Express app or an http.Server (got ${typeof build})`)
  }
  const app = await (build as () => unknown)()
  if (isFastify(app)) return fastifyApp(app)
  if (app instanceof NetServer) return serverApp(app as Server, standaloneMpms())
  if (isExpress(app)) return serverApp(createServer(app as RequestListener), standaloneMpms())
  throw new TypeError(`the default export of ${describe(href)} must return a Fastify instance, an Express app or an http.Server (not listening yet)`)
}

function isFastify (app: unknown): app is FastifyLike {
  return app !== null && typeof app === 'object' && typeof (app as FastifyLike).listen === 'function' &&
    (app as FastifyLike).server instanceof NetServer
}

function isExpress (app: unknown): boolean {
  return typeof app === 'function' && typeof (app as { handle?: unknown }).handle === 'function' &&
    typeof (app as { listen?: unknown }).listen === 'function'
}

function fastifyApp (app: FastifyLike): ChildApp {
  const options = app.mpm?.options
  return {
    server: app.server,
    listen: async (port, host) => { await app.listen({ port, host }) },
    close: async () => { await app.close() },
    retryAfter: options?.retryAfter ?? 5,
    threads: options === undefined ? null : { min: options.minThreads, max: options.maxThreads },
    slots: app.mpm?.pools?.maxSlots() ?? options?.maxThreads ?? 0,
    closeBefore: (deadline) => app.mpm?.closeBefore(deadline)
  }
}

function serverApp (server: Server, mpms: Standalone[]): ChildApp {
  for (const mpm of mpms) mpm.attach(server)
  const first = mpms[0]
  return {
    server,
    listen: async (port, host) => {
      // Express has no ready(): load every offloaded module before taking traffic, as Fastify does.
      for (const mpm of mpms) await mpm.ready()
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => { server.off('error', reject); resolve() })
      })
    },
    close: async () => {
      if (server.listening) server.close()
      // Refuse new offloaded work and finish what runs, then wait for the last answers to go out
      // (requests still running at the deadline are answered 503 by the child).
      await Promise.all(mpms.map(async (mpm) => await mpm.close()))
      await untilNoConnections(server)
    },
    retryAfter: first?.retryAfter ?? 5,
    threads: first?.threads ?? null,
    slots: mpms.reduce((n, mpm) => n + mpm.slots, 0),
    closeBefore: (deadline) => { for (const mpm of mpms) mpm.closeBefore(deadline) }
  }
}

function untilNoConnections (server: Server): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      server.getConnections((err, count) => {
        if (err !== null || count === 0) resolve()
        else setTimeout(check, 50)
      })
    }
    check()
  })
}
