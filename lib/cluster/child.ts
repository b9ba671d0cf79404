// The child side: build the app from its module, listen, report, heartbeat, count requests,
// and on request drain without dropping a single keep-alive request before exiting.

import { randomInt } from 'node:crypto'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { Server as NetServer, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { markDraining } from '../status/readiness.js'
import { buildChildApp, type ChildApp } from './child-app.js'
import { syntaxErrorHead } from './error-origin.js'
import { memoryLimit, watchMemory } from './memory.js'
import {
  CHILD_CONFIG_ENV, isStopMessage, serializeError,
  type ChildConfig, type ChildMessage
} from './messages.js'

/** Stop reasons where a new process takes over at once (reload, recycle, scale down). */
const REPLACED = new Set(['reload', 'max-requests', 'max-memory', 'scale'])

export function readChildConfig (): ChildConfig {
  const raw = process.env[CHILD_CONFIG_ENV]
  if (raw === undefined) throw new Error(`fastify-mpm: ${CHILD_CONFIG_ENV} is not set; this entry is started by the cluster primary`)
  return JSON.parse(raw) as ChildConfig
}

function send (msg: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) { resolve(); return }
    process.send(msg, undefined, {}, () => resolve())
  })
}

/**
 * Stops a server without the keep-alive race: Node >= 19's http `close()` destroys idle
 * keep-alive sockets at once, and a client reusing one at that moment gets a reset (pm2's 502s).
 * Instead: stop accepting, answer each connection's next request with `Connection: close`, and
 * only force-close the sockets still idle after a grace period.
 */
export class Drainer {
  draining = false
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  readonly #inFlight = new Set<ServerResponse>()
  #onEmpty: (() => void) | undefined

  constructor (server: Server, onRequest: () => void) {
    this.#server = server
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket)
      socket.once('close', () => {
        this.#sockets.delete(socket)
        if (this.#sockets.size === 0) this.#onEmpty?.()
      })
    })
    // Prepended, so the header is set before Fastify writes the response.
    server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
      onRequest()
      if (this.draining) res.setHeader('Connection', 'close')
      this.#inFlight.add(res)
      res.once('close', () => this.#inFlight.delete(res))
    })
  }

  get connections (): number { return this.#sockets.size }

  /** Stops accepting and waits (up to `graceMs`) for the open connections to go away. */
  async drain (graceMs: number): Promise<void> {
    this.draining = true
    for (const res of this.#inFlight) if (!res.headersSent) res.setHeader('Connection', 'close')
    // net.Server's close, not http.Server's: the listening handle goes (in a cluster child the
    // primary hands new connections to the siblings), the idle keep-alive sockets stay.
    NetServer.prototype.close.call(this.#server)
    if (this.#sockets.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs)
        this.#onEmpty = () => { clearTimeout(timer); resolve() }
      })
    }
    // Whatever is still idle has had its chance to send a request and learn it should go.
    this.#server.closeIdleConnections()
  }

  /**
   * The process is about to be killed: a request still unanswered gets a 503 with
   * `Connection: close` now, rather than a reset when the kill comes. (Offloaded requests are
   * answered so by the pool's own close deadline, through the app.)
   */
  answerUnfinished (retryAfter: number): void {
    for (const res of this.#inFlight) {
      if (res.headersSent || res.writableEnded) continue
      res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', connection: 'close', 'retry-after': String(retryAfter) })
      res.end(JSON.stringify({ statusCode: 503, error: 'Service Unavailable', message: 'Server is shutting down' }))
    }
  }
}

/** Runs one cluster child until it is told to stop; never returns normally (the process exits). */
export async function runChild (config: ChildConfig): Promise<void> {
  let requests = 0
  const limit = config.maxRequests > 0 ? config.maxRequests + randomInt(0, config.maxRequestsJitter + 1) : 0
  let stopping: Promise<void> | undefined
  let app: ChildApp | undefined
  let drainer: Drainer | undefined

  // The heartbeat runs on the main event loop: a handler blocking it stops the beats, which is
  // exactly what the primary watches for.
  const beat = config.heartbeatInterval > 0
    ? setInterval(() => { void send({ type: 'fastify-mpm:heartbeat', requests }) }, config.heartbeatInterval)
    : undefined
  beat?.unref()

  const stop = (reason: string, delay: number): Promise<void> => {
    stopping ??= (async () => {
      let code = 0
      // The primary kills this process gracefulTimeout after asking it to stop: requests still
      // running must be answered (503, Connection: close) a little before that, not cut by the kill.
      // The margin leaves time to write those answers and exit; under load a process needs a few
      // hundred ms for that. Offloaded requests are answered at the deadline (the pool closes),
      // any other still unanswered a moment later.
      const margin = Math.max(300, Math.min(1000, Math.floor(config.gracefulTimeout / 5)))
      const deadline = Date.now() + config.gracefulTimeout - margin
      const lastCall = setTimeout(() => drainer?.answerUnfinished(app?.retryAfter ?? 5), config.gracefulTimeout - margin + margin / 3).unref()
      try {
        // shutdownDelay: readiness fails at once, the listener stays open while load balancers
        // notice. A process merely being replaced leaves the host ready: its successor listens.
        if (!REPLACED.has(reason)) markDraining(reason)
        if (delay > 0 && app !== undefined && drainer !== undefined) await sleep(delay)
        if (app !== undefined && drainer !== undefined) {
          await drainer.drain(Math.min(5000, Math.floor(config.gracefulTimeout / 2)))
          app.closeBefore(deadline)
          await app.close()
        }
      } catch (err) {
        process.stderr.write(`fastify-mpm: process ${process.pid}: error while closing: ${String((err as Error)?.stack ?? err)}\n`)
        code = 1
      }
      clearInterval(beat)
      clearTimeout(lastCall)
      process.exit(code)
    })()
    return stopping
  }

  // Ctrl-C, a closing terminal or `kill -HUP -<pgid>` reach the whole process group: the primary
  // decides what happens to its children, so these must neither kill nor suspend one.
  for (const signal of ['SIGINT', 'SIGHUP', 'SIGTTIN', 'SIGTTOU'] as const) process.on(signal, () => {})
  process.on('SIGTERM', () => {
    void send({ type: 'fastify-mpm:draining', reason: 'SIGTERM' })
    void stop('SIGTERM', config.shutdownDelay)
  })
  process.on('message', (msg: unknown) => {
    if (isStopMessage(msg)) void stop(msg.reason, msg.delay ?? 0)
  })

  try {
    app = await buildChildApp(config.app)
    drainer = new Drainer(app.server, () => {
      requests++
      if (requests === limit) void send({ type: 'fastify-mpm:recycle', requests })
    })
    if (stopping !== undefined) return
    await app.listen(config.port, config.host)
    watchMemory(memoryLimit(config.maxMemory, config.maxMemoryJitter), (rss, limit) => {
      void send({ type: 'fastify-mpm:recycle', requests, reason: 'max-memory', rss, limit })
    })
  } catch (err) {
    const error = serializeError(err)
    error.stack = syntaxErrorHead(err, config.app) + (error.stack ?? '')
    await send({ type: 'fastify-mpm:boot-failed', error })
    try { await app?.close() } catch {}
    process.exit(1)
  }
  if (stopping !== undefined) return

  const address = app.server.address()
  const port = address !== null && typeof address === 'object' ? address.port : config.port
  await send({ type: 'fastify-mpm:ready', address: { port, host: config.host }, threads: app.threads, slots: app.slots })
}
