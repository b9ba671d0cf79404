// The advisor's seam in Fastify: the `tracing:fastify.request.handler:*` diagnostics channels,
// which Fastify 5 publishes around each handler with the route it matched. Counted per request:
// start → end (the handler's synchronous part; for a plain handler that includes reply.send(),
// so serialization and onSend hooks) plus, for an async handler, asyncStart → asyncEnd (Fastify
// sending what the promise resolved to: serialization, onSend hooks, the write). Not counted:
// an async handler's own code between its first await and its return, hooks before the handler
// (onRequest … preHandler), body parsing, and Fastify's routing.
//
// The channels are per process, so one subscription serves every app; each request is given to
// the advisor of the app that declared its route, found from the route's Fastify instance.

import diagnostics from 'node:diagnostics_channel'
import { performance } from 'node:perf_hooks'
import type { FastifyInstance } from 'fastify'
import type { Mpm } from '../core/mpm.js'
import type { Advisor } from '../status/advisor.js'
import type { LoopRow } from '../status/loop-time.js'

interface Store {
  request: { server: object }
  async: boolean
  route?: { url?: string, method?: string | string[] }
  [kStart]?: number
  [kSync]?: number
}

const kStart = Symbol('fastify-mpm.loopStart')
const kSync = Symbol('fastify-mpm.loopSync')

interface Watched { advisor: Advisor, mpm: Mpm, rows: Map<string, LoopRow> }

const channels = diagnostics.tracingChannel('fastify.request.handler')
// Keyed by Fastify instance; an encapsulated child inherits from its parent by prototype, so the
// first lookup walks up to the app the plugin was registered in and is remembered.
const apps = new WeakMap<object, Watched | null>()
let watching = 0

function watchedFor (server: object): Watched | undefined {
  let found = apps.get(server)
  if (found !== undefined) return found ?? undefined
  for (let proto = Object.getPrototypeOf(server) as object | null; proto !== null; proto = Object.getPrototypeOf(proto) as object | null) {
    const parent = apps.get(proto)
    if (parent !== undefined) { found = parent; break }
  }
  apps.set(server, found ?? null)
  return found ?? undefined
}

function rowOf (store: Store): { watched: Watched, row: LoopRow } | undefined {
  const url = store.route?.url
  if (url === undefined) return undefined
  const watched = watchedFor(store.request.server)
  if (watched === undefined) return undefined
  // The route's declared method(s) and path, named as offloaded routes are: never the URL sent.
  const name = `${String(store.route?.method)} ${url}`
  let row = watched.rows.get(name)
  if (row === undefined) {
    row = watched.advisor.times.row(name, watched.mpm.routes.some((r) => r.route === name))
    watched.rows.set(name, row)
  }
  return { watched, row }
}

function done (store: Store, ms: number, now: number): void {
  const found = rowOf(store)
  if (found !== undefined) found.watched.advisor.times.record(found.row, ms, now)
}

const subscribers = {
  start (message: unknown) { (message as Store)[kStart] = performance.now() },
  end (message: unknown) {
    const store = message as Store
    const now = performance.now()
    const ms = now - (store[kStart] ?? now)
    // An async handler's answer is sent later, between asyncStart and asyncEnd: counted then.
    if (store.async) store[kSync] = ms
    else done(store, ms, now)
  },
  asyncStart (message: unknown) { (message as Store)[kStart] = performance.now() },
  asyncEnd (message: unknown) {
    const store = message as Store
    const now = performance.now()
    done(store, (store[kSync] ?? 0) + now - (store[kStart] ?? now), now)
  },
  error () {}
}

/** Measures `fastify`'s routes for `advisor` until the app closes. */
export function watchLoopTime (fastify: FastifyInstance, mpm: Mpm, advisor: Advisor): void {
  apps.set(fastify, { advisor, mpm, rows: new Map() })
  if (watching++ === 0) channels.subscribe(subscribers)
  fastify.addHook('onClose', async () => {
    apps.delete(fastify)
    if (--watching === 0) channels.unsubscribe(subscribers)
  })
}

/** For bench/advisor-inject.js only: detaches (false) or re-attaches the subscriber, to A/B the same process. */
export function setTracingForBench (on: boolean): void {
  if (watching === 0) return
  if (on) channels.subscribe(subscribers)
  else channels.unsubscribe(subscribers)
}
