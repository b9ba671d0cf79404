// Which route an Express request is counted under (status rows, metrics series, log lines,
// timeouts' cost): it must come from the app's code, never from the request. Express names the
// route only at request time, and what it tells then is partly the client's: a use() mount has
// no `req.route` and sees every path under it, and `req.baseUrl` is the URL as sent (its case,
// its parameter values). Keying by those let 20,000 paths make 20,000 routes. So a binding is
// keyed by what the app declared, the Route object Express matched (or, for a use() mount, the
// middleware itself) and the route's method, and the request only lends the readable name,
// once, when that key is first seen. A router mounted at two paths shares its routes' rows.

import type { ExpressRequest } from './types.js'

/** The use() mount's key: one per offload() middleware. */
const MOUNT = Symbol('mount')

interface RouteLike { path: unknown, methods?: Record<string, boolean> }

export class RouteKeys<T> {
  readonly #bindings = new Map<object | symbol, Map<string, T>>()

  /** The value for the request's route, made (with the route's name) the first time it is seen. */
  get (req: ExpressRequest, make: (name: string) => T): T {
    const route = req.route as RouteLike | undefined
    // A route's methods are the app's: Express dispatches only those (and HEAD for GET) to it.
    const method = route === undefined ? 'USE' : route.methods?._all === true ? 'ALL' : String(req.method)
    const owner = route ?? MOUNT
    let byMethod = this.#bindings.get(owner)
    if (byMethod === undefined) {
      byMethod = new Map()
      this.#bindings.set(owner, byMethod)
    }
    let value = byMethod.get(method)
    if (value === undefined) {
      value = make(routeName(req, method, route))
      byMethod.set(method, value)
    }
    return value
  }
}

/** `GET /users/:id`, `ALL /c/:name`, or `USE /api/*` for a use() mount (everything under /api). */
function routeName (req: ExpressRequest, method: string, route: RouteLike | undefined): string {
  if (route !== undefined) return `${method} ${req.baseUrl}${String(route.path)}`
  return `USE ${mountPattern(req)}/*`
}

/** The mount path with its parameters' values put back as `:name`, where a segment is one of them. */
function mountPattern (req: ExpressRequest): string {
  const names = new Map<string, string>()
  for (const [name, value] of Object.entries(req.params ?? {})) {
    if (typeof value === 'string' && value !== '') names.set(value, name)
  }
  return req.baseUrl.split('/').map((segment) => {
    const name = names.get(safeDecode(segment))
    return name === undefined ? segment : `:${name}`
  }).join('/')
}

function safeDecode (segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}
