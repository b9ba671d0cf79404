// The advisor's seam in Express, which publishes no tracing channel: the Route's dispatch(),
// the one call through which Express 4 and 5 run a declared route's handlers, wrapped so its
// synchronous run is timed. That is each handler's synchronous part, including a res.json() or
// res.send() it calls before returning (serialization, the write), and also when the route runs
// late, after a body parser read the body. Not counted: an async handler's code after its first
// await and what it sends from there (an offloaded route's answer is sent so), middleware before
// the route, and Express's routing.
//
// Express is never imported: Route.prototype is found from the first routed request the mpm
// sees (req.route) or from the app's router stack, and wrapped once per process. Requests of apps
// that no advisor watches pass straight through. Rows are keyed by the Route object Express
// matched and its method (RouteKeys), never by the URL sent.

import type { Server } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { Mpm } from '../core/mpm.js'
import type { Advisor } from '../status/advisor.js'
import type { LoopRow } from '../status/loop-time.js'
import { RouteKeys } from './route-keys.js'
import type { ExpressRequest } from './types.js'

type Dispatch = (this: object, req: ExpressRequest, res: unknown, done: unknown) => unknown

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

function wrap (proto: { dispatch?: Dispatch, [kWrapped]?: true }): void {
  if (proto[kWrapped] === true || typeof proto.dispatch !== 'function') return
  const original = proto.dispatch
  proto.dispatch = function dispatch (this: object, req, res, done) {
    const watched = watchedFor((req as { app?: AppLike }).app)
    if (watched === undefined) return original.call(this, req, res, done)
    const start = performance.now()
    try {
      return original.call(this, req, res, done)
    } finally {
      const now = performance.now()
      // Express sets req.route to the route being dispatched; anything else is not ours to name.
      if (req.route === this) {
        const row = watched.keys.get(req, (name) => watched.advisor.times.row(name, watched.mpm.routes.some((r) => r.route === name)))
        watched.advisor.times.record(row, now - start, now)
      }
    }
  }
  proto[kWrapped] = true
}

/** Route.prototype, from a routed request or the app's router (Express 5 `router`, Express 4 `_router`). */
function findRouteProto (req: ExpressRequest): object | undefined {
  if (req.route !== undefined) return Object.getPrototypeOf(req.route) as object
  return fromApp((req as { app?: AppLike }).app)
}

function fromApp (app: AppLike | undefined): object | undefined {
  const seen = new Set<RouterLike>()
  const search = (router: RouterLike | undefined): object | undefined => {
    if (router === undefined || seen.has(router)) return undefined
    seen.add(router)
    for (const layer of router.stack ?? []) {
      if (layer.route !== undefined) return Object.getPrototypeOf(layer.route) as object
      const inner = search(layer.handle)
      if (inner !== undefined) return inner
    }
    return undefined
  }
  return search(app?._router ?? app?.router)
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
        const proto = wrapped ? undefined : fromApp(listener)
        if (proto !== undefined) {
          wrap(proto as Parameters<typeof wrap>[0])
          wrapped = true
        }
      }
    },
    seen (req) {
      const app = (req as { app?: object }).app
      if (app !== undefined && apps.get(app) !== watched) apps.set(app, watched)
      if (wrapped) return
      const proto = findRouteProto(req)
      if (proto === undefined) return
      wrap(proto as Parameters<typeof wrap>[0])
      wrapped = true
    },
    close () { watched.closed = true }
  }
}
