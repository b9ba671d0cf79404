// The advisor's seam in Express, which publishes no tracing channel: the router's Layer call
// that runs each handler of a declared route, wrapped so its synchronous run is timed. That is
// each handler's synchronous part, including a res.json() or res.send() it calls before
// returning (serialization, the write), also when it runs late, after a route-level body parser
// read the body. Not counted: an async handler's code after its first await and what it sends
// from there (an offloaded route's answer is sent so), app-level middleware, Express's routing.
//
// Express is never imported: the prototype to wrap is found in the app's router stack (from the
// server's request listener, or the first request an mpm middleware sees) and wrapped once per
// process. Requests of apps that no advisor watches pass straight through. Rows are keyed by the Route object Express
// matched and its method (RouteKeys), never by the URL sent.

import type { Server } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { Mpm } from '../core/mpm.js'
import type { Advisor } from '../status/advisor.js'
import type { LoopRow } from '../status/loop-time.js'
import { RouteKeys } from './route-keys.js'
import type { ExpressRequest, ExpressResponse } from './types.js'

type Dispatch = (this: object, req: ExpressRequest, res: ExpressResponse, next: unknown) => unknown

interface Watched { advisor: Advisor, mpm: Mpm, keys: RouteKeys<LoopRow>, closed: boolean }
interface AppLike { parent?: AppLike, router?: RouterLike, _router?: RouterLike }
interface RouterLike { stack?: Array<{ route?: object, handle?: RouterLike }> }

const kWrapped = Symbol.for('fastify-mpm.loopTimeDispatch')
const apps = new WeakMap<object, Watched | null>()

function watchedFor (app: AppLike | undefined): Watched | undefined {
  if (app === undefined || app === null) return undefined
  let found = apps.get(app)
  if (found !== undefined) return found === null || found.closed ? undefined : found
  // A sub-app mounted with app.use() is watched with the app it is mounted in.
  found = watchedFor(app.parent) ?? null
  apps.set(app, found)
  return found ?? undefined
}

// Both Express 4 and 5 run each handler of a route through the router's Layer (handle_request in
// 4, handleRequest in 5); a route's layers are the ones with their own `method` (undefined for
// all()). Timing those, not the route as a whole, also counts the handler that runs after a
// route-level body parser read the body, in a later tick. A handler that calls the next one
// synchronously is inside its timing already (depth), and the request is recorded once: when a
// handler leaves it answered, or else when the response closes.
type Layer = Record<string | symbol, unknown> & { route?: object }
interface Seam { proto: Layer, method: 'handleRequest' | 'handle_request' }
interface Pending { [kMs]?: number, [kRow]?: LoopRow, [kWatched]?: Watched }

const kMs = Symbol('fastify-mpm.loopMs')
const kRow = Symbol('fastify-mpm.loopRow')
const kWatched = Symbol('fastify-mpm.loopWatched')
let depth = 0

function wrap ({ proto, method }: Seam): void {
  const original = proto[method]
  if (proto[kWrapped] === true || typeof original !== 'function') return
  const call = original as Dispatch
  proto[method] = function timed (this: Layer, req: ExpressRequest, res: ExpressResponse, next: unknown) {
    if (depth > 0 || !Object.hasOwn(this, 'method')) return call.call(this, req, res, next)
    const watched = watchedFor((req as { app?: AppLike }).app)
    if (watched === undefined || req.route === undefined) return call.call(this, req, res, next)
    const start = performance.now()
    depth++
    try {
      return call.call(this, req, res, next)
    } finally {
      depth--
      const now = performance.now()
      const row = watched.keys.get(req, (name) => watched.advisor.times.row(name, watched.mpm.routes.some((r) => r.route === name)))
      add(watched, row, req as ExpressRequest & Pending, res, now - start, now)
    }
  }
  proto[kWrapped] = true
}

function add (watched: Watched, row: LoopRow, req: ExpressRequest & Pending, res: ExpressResponse, ms: number, now: number): void {
  const pending = req[kMs]
  if (res.writableEnded) {
    req[kMs] = undefined
    watched.advisor.times.record(row, ms + (pending ?? 0), now)
    return
  }
  req[kMs] = ms + (pending ?? 0)
  req[kRow] = row
  if (pending !== undefined) return
  // Answered later (an async handler, an offloaded route): what ran of it here still counts.
  req[kWatched] = watched
  res.once('close', () => flush(req))
}

function flush (req: ExpressRequest & Pending): void {
  const ms = req[kMs]
  if (ms === undefined || req[kRow] === undefined || req[kWatched] === undefined) return
  req[kMs] = undefined
  req[kWatched].advisor.times.record(req[kRow], ms, performance.now())
}

/** Where to time routes, from the app's router (Express 5 `router`, Express 4 `_router`). */
function findSeam (app: AppLike | undefined): Seam | undefined {
  const seen = new Set<RouterLike>()
  const search = (router: RouterLike | undefined): Seam | undefined => {
    if (router === undefined || seen.has(router)) return undefined
    seen.add(router)
    for (const layer of router.stack ?? []) {
      if (layer.route !== undefined) {
        const proto = Object.getPrototypeOf(layer) as Layer
        return { proto, method: typeof proto.handleRequest === 'function' ? 'handleRequest' : 'handle_request' }
      }
      const inner = search(layer.handle)
      if (inner !== undefined) return inner
    }
    return undefined
  }
  try {
    return search(app?._router ?? app?.router)
  } catch {
    // Express 4's `app.router` getter throws (it was removed in 4.0): no routes declared yet.
    return undefined
  }
}

export interface LoopTimeSeam {
  /** Watches the app that serves `server` from now on (found among its request listeners). */
  attach: (server: Server) => void
  seen: (req: ExpressRequest) => void
  close: () => void
}

/** An advisor for one ExpressMpm: `seen(req)` on each request its middleware sees, `close()` at the end. */
export function loopTimeSeam (advisor: Advisor, mpm: Mpm): LoopTimeSeam {
  const watched: Watched = { advisor, mpm, keys: new RouteKeys<LoopRow>(), closed: false }
  let wrapped = false
  return {
    attach (server) {
      // The app is the server's request listener (an Express app is a function with a router).
      for (const listener of server.listeners('request') as AppLike[]) {
        if (typeof listener !== 'function' || typeof (listener as { handle?: unknown }).handle !== 'function') continue
        if (apps.get(listener) !== watched) apps.set(listener, watched)
        const seam = wrapped ? undefined : findSeam(listener)
        if (seam !== undefined) {
          wrap(seam)
          wrapped = true
        }
      }
    },
    seen (req) {
      const app = (req as { app?: object }).app
      if (app !== undefined && apps.get(app) !== watched) apps.set(app, watched)
      if (wrapped) return
      const seam = findSeam((req as { app?: AppLike }).app)
      if (seam === undefined) return
      wrap(seam)
      wrapped = true
    },
    close () { watched.closed = true }
  }
}
