// The warning for a server sized past its machine: more threads than cores do not add
// throughput for CPU-bound handlers, they only queue on the CPU and stretch every latency (on 2
// cores, 4 processes × 4 threads put a trivial route's p90 at 67 ms). Twice the cores leaves
// room for handlers that wait on I/O; past it, the copy-pasted example is the likelier cause.
// The cluster's primary checks the whole cluster; a process on its own checks its own pool.

/** How far past the cores the thread slots may go before the start logs a warning. */
export const OVERSUBSCRIPTION_FACTOR = 2

/**
 * The warning's text when `maxThreads` (one entry per process: its pool's largest size) add up
 * to more than twice `cores`, else undefined. A process without threads counts as one: its event
 * loop runs the handlers.
 */
export function oversubscription (maxThreads: number[], cores: number,
  advice = 'leave --processes and --threads at their defaults (sized from the cores) or lower them'): string | undefined {
  const slots = maxThreads.reduce((n, max) => n + Math.max(max, 1), 0)
  if (slots <= OVERSUBSCRIPTION_FACTOR * cores) return undefined
  const per = new Set(maxThreads)
  const shape = per.size === 1 ? `${maxThreads.length} process${maxThreads.length === 1 ? '' : 'es'} × ${Math.max(maxThreads[0], 1)} thread${maxThreads[0] > 1 ? 's' : ''}` : `${maxThreads.length} processes`
  return `${shape} = ${slots} threads at most, on ${cores} core${cores === 1 ? '' : 's'}: more than ${OVERSUBSCRIPTION_FACTOR}× the cores, ` +
    `so CPU-bound handlers queue for the CPU and every request slows; ${advice}`
}
