// PHP-FPM's slowlog for offloaded handlers: one warn line per task that ran past the threshold,
// with what an operator needs to find it (route, request id, module, how long).

import type { TaskEvent, TaskObserver, TaskResult } from '../core/offload-target.js'
import type { LoggerLike } from '../core/pool.js'

// Tasks that never ran in a thread have no handler time to speak of.
const NEVER_RAN: ReadonlySet<TaskResult> = new Set<TaskResult>(['rejected', 'queue-timeout', 'dropped', 'closing'])

export function slowLog (log: LoggerLike, thresholdMs: number): TaskObserver {
  return (event: TaskEvent) => {
    if (event.durationMs < thresholdMs || NEVER_RAN.has(event.result)) return
    const durationMs = Math.round(event.durationMs)
    log.warn({
      reqId: event.reqId,
      route: event.route,
      module: event.module,
      export: event.export,
      result: event.result,
      durationMs,
      slowTaskThreshold: thresholdMs
    }, `fastify-mpm: slow task: ${event.route} took ${durationMs} ms (threshold ${thresholdMs} ms), module ${event.module}#${event.export}`)
  }
}
