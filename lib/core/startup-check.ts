// Loads every offloaded route's module once, in a thread, when the app gets ready: a missing
// file, a module that fails to import or a missing export fails ready() naming the route and
// file, instead of surprising the first request. Each is named as `GET /fib → fib.js#default`:
// the method and path where the framework has told them (Express tells them only at the first
// request, so before it a handler is `fib.js#default` alone), the module and its export.

import { basename } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FST_MPM_HANDLER_EXPORT, FST_MPM_HANDLER_MODULE } from './errors.js'
import type { OffloadTarget } from './offload-target.js'
import type { ThreadPool } from './pool.js'

export interface OffloadedRoute { route: string, target: OffloadTarget }

/** A handler to check: `route` is unknown for an Express handler no request has reached yet. */
export interface CheckedHandler { route?: string, target: OffloadTarget }

/** `fib.js#default`: the module's file name and the export. */
export function handlerName (target: OffloadTarget): string {
  let file = target.href
  try {
    if (file.startsWith('file:')) file = basename(fileURLToPath(file))
  } catch {}
  return `${file}#${target.exportName}`
}

/** `GET /fib → fib.js#default`, or `fib.js#default` where the route is not known yet. */
export function describeHandler ({ route, target }: CheckedHandler): string {
  return route === undefined ? handlerName(target) : `${route} → ${handlerName(target)}`
}

/** What an error blames: `route GET /a, HEAD /a`, or `fib.js#default` where no route is known. */
function blamed (handlers: CheckedHandler[], target: OffloadTarget): string {
  const routes = handlers.flatMap((h) => h.route === undefined ? [] : [h.route])
  return routes.length > 0 ? `route ${routes.join(', ')}` : handlerName(target)
}

export async function verifyHandlerModules (pool: ThreadPool, routes: CheckedHandler[]): Promise<void> {
  const modules = [...new Map(routes.map(({ target }) => [`${target.href}#${target.exportName}`, target])).values()]
  if (modules.length === 0) return
  let problems
  try {
    problems = await pool.probe(modules.map((t) => ({ m: t.href, e: t.exportName })))
  } catch (err) {
    // The probe's thread died (a module exiting or crashing at import): no route to single out.
    await pool.close()
    throw new FST_MPM_HANDLER_MODULE(routes.map(describeHandler).join(', '), modules.map((t) => t.href).join(', '), (err as Error).message)
  }
  if (problems.length === 0) return
  await pool.close()
  const [problem] = problems
  const target = modules[problem.index]
  const names = blamed(routes.filter((r) => r.target.href === target.href && r.target.exportName === target.exportName), target)
  throw problem.kind === 'load'
    ? new FST_MPM_HANDLER_MODULE(names, target.href, problem.message)
    : new FST_MPM_HANDLER_EXPORT(names, target.href, target.exportName, problem.exports.join(', ') || 'none')
}
