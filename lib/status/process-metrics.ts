// Node's own process metrics (prom-client's collectDefaultMetrics: CPU, memory and heap, event
// loop lag, GC, handles, file descriptors), offered beside the pool's when `metrics:
// { processMetrics: true }` asks. They go on prom-client's global registry, the one /metrics
// serves and the cluster primary sums, each series labelled with its process's `pid`: summing
// CPU seconds across processes is right, but summing event-loop lag or heap limits is not, and
// a pid label lets a query choose (`sum without (pid) (...)`), like the existing per-process
// gauges (fastify_mpm_process_resident_memory_bytes{pid}).
//
// prom-client is loaded here synchronously with require (it is CommonJS), and only when asked,
// so an app without metrics never loads it.

import { createRequire } from 'node:module'

type PromClient = typeof import('prom-client')

let enabled = false

/** Starts collecting Node's default metrics in this process, once; false when the app already collects them. */
export function enableProcessMetrics (): boolean {
  if (enabled) return true
  const client = createRequire(import.meta.url)('prom-client') as PromClient
  // The app called collectDefaultMetrics itself: its series are already served; registering
  // them again would throw.
  if (client.register.getSingleMetric('process_cpu_user_seconds_total') !== undefined) return false
  client.collectDefaultMetrics({ labels: { pid: String(process.pid) } })
  enabled = true
  return true
}
