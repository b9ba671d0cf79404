// Loads every offloaded route's module once, in a thread, when the app gets ready: a missing
// file, a module that fails to import or a missing export fails ready() naming the route and
// file, instead of surprising the first request.

import { FST_MPM_HANDLER_EXPORT, FST_MPM_HANDLER_MODULE } from './errors.js'
import type { OffloadTarget } from './offload-target.js'
import type { ThreadPool } from './pool.js'

export interface OffloadedRoute { route: string, target: OffloadTarget }

export async function verifyHandlerModules (pool: ThreadPool, routes: OffloadedRoute[]): Promise<void> {
  const modules = [...new Map(routes.map(({ target }) => [`${target.href}#${target.exportName}`, target])).values()]
  if (modules.length === 0) return
  let problems
  try {
    problems = await pool.probe(modules.map((t) => ({ m: t.href, e: t.exportName })))
  } catch (err) {
    // The probe's thread died (a module exiting or crashing at import): no route to single out.
    await pool.close()
    throw new FST_MPM_HANDLER_MODULE(routes.map((r) => r.route).join(', '), modules.map((t) => t.href).join(', '), (err as Error).message)
  }
  if (problems.length === 0) return
  await pool.close()
  const [problem] = problems
  const target = modules[problem.index]
  const names = routes.filter((r) => r.target.href === target.href && r.target.exportName === target.exportName)
    .map((r) => r.route).join(', ')
  throw problem.kind === 'load'
    ? new FST_MPM_HANDLER_MODULE(names, target.href, problem.message)
    : new FST_MPM_HANDLER_EXPORT(names, target.href, target.exportName, problem.exports.join(', ') || 'none')
}
