// The pool's knobs (what every adapter shares): threads, queue, timeouts, recycling, close.
// Checked early and by name, so a typo fails at startup instead of surprising a request.

import { availableParallelism } from 'node:os'
import type { ResourceLimits } from 'node:worker_threads'
import { FST_MPM_INVALID_OPTION } from './errors.js'
import type { NamedPoolOptions } from './pool-options.js'

/** Thread bounds, like Puma's `threads min,max`; a number means min = max. 0 runs handlers inline. */
export type ThreadsOption = number | { min?: number, max: number }

export interface CoreOptions {
  /** Threads per process (Apache ThreadsPerChild, Puma `threads`, Gunicorn `threads`). Default: 1..cores. */
  threads?: ThreadsOption
  /** Tasks allowed to wait for a thread; beyond it requests get 503 + Retry-After. Default 512. */
  maxQueue?: number
  /** ms an idle thread above `min` lives (Apache MaxSpareThreads, PHP-FPM process_idle_timeout). Default 30 000. */
  idleTimeout?: number
  /** ms a handler may run (0 = no limit); past it the thread is terminated and the request gets 503. Default 30 000. */
  taskTimeout?: number
  /**
   * ms a task may wait for a free thread (0 = no limit); past it the request gets 503 + Retry-After
   * and never runs (HAProxy `timeout queue`, Passenger `max_request_queue_time`). Default: taskTimeout.
   */
  queueTimeout?: number
  /** Recycle a thread after N tasks, 0 = never (Apache MaxConnectionsPerChild, Gunicorn max_requests). Default 0. */
  maxTasksPerThread?: number
  /**
   * Recycle a thread whose V8 heap in use passes this many MB after a task, 0 = never (pm2
   * max_memory_restart, Passenger max_memory, for threads). Its answer is sent first; a
   * replacement starts as it goes. Default 0.
   */
  maxThreadMemory?: number
  /** V8 heap limits for each thread; a thread past them dies and is replaced, its request gets a 500. */
  resourceLimits?: ResourceLimits
  /** Seconds sent in `Retry-After` with 503s. Default 5. */
  retryAfter?: number
  /** ms `app.close()` waits for in-flight tasks before destroying the pool. Default 30 000. */
  closeTimeout?: number
  /**
   * Where handlers run: `'thread'` (worker threads, Apache's worker MPM) or `'process'` (child
   * processes, prefork: for handlers that are not thread-safe, such as some native addons; a crash
   * costs only its own request). Default 'thread'.
   */
  isolation?: Isolation
  /**
   * Bytes a streamed response may run ahead of its client (and a streamed-in request body ahead
   * of its handler) between the thread and the socket (nginx proxy_buffers, for threads). Default 1 MiB.
   */
  streamBuffer?: number
  /**
   * Named pools (bulkheads), each with its own threads, queue, limits and recycling; a route
   * joins one with `offload(url, { pool: 'reports' })`. The top-level options stay the default
   * pool's. See pool-options.ts for the defaults of what a pool leaves out.
   */
  pools?: Record<string, NamedPoolOptions>
}

export type Isolation = 'thread' | 'process'

export interface ResolvedCoreOptions {
  minThreads: number
  maxThreads: number
  maxQueue: number
  idleTimeout: number
  taskTimeout: number
  queueTimeout: number
  maxTasksPerThread: number
  /** bytes of V8 heap in use after a task past which its thread is recycled; 0 = never */
  maxThreadMemory: number
  resourceLimits: ResourceLimits | undefined
  retryAfter: number
  closeTimeout: number
  isolation: Isolation
  streamBuffer: number
}

/** Set by the cluster CLI (`--threads 1:4`) so every child gets the same defaults; explicit options win. */
export const THREADS_ENV = 'FASTIFY_MPM_THREADS'

export const CORE_KEYS: ReadonlySet<string> = new Set(['threads', 'maxQueue', 'idleTimeout', 'taskTimeout', 'queueTimeout',
  'maxTasksPerThread', 'maxThreadMemory', 'resourceLimits', 'retryAfter', 'closeTimeout', 'isolation', 'streamBuffer', 'pools'])

export function fail (name: string, problem: string): never {
  throw new FST_MPM_INVALID_OPTION(name, problem)
}

export function integer (name: string, value: unknown, fallback: number, min = 0): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    fail(name, `must be an integer >= ${min}, got ${JSON.stringify(value)}`)
  }
  return value
}

/** Rejects keys no part of the package knows, naming them and listing the known ones. */
export function checkKeys (opts: unknown, known: ReadonlySet<string>, ignored: ReadonlySet<string> = new Set()): Record<string, unknown> {
  if (opts === null || typeof opts !== 'object') fail('options', 'must be an object')
  for (const key of Object.keys(opts)) {
    if (!known.has(key) && !ignored.has(key)) fail(key, `is not a fastify-mpm option (known: ${[...known].join(', ')})`)
  }
  return opts as Record<string, unknown>
}

/** Parses `4`, `"4"`, `"1:4"` or `{ min, max }` into bounds; shared by the plugin, the env default and the CLI. */
export function parseThreads (value: unknown, name = 'threads'): { min: number, max: number } {
  if (typeof value === 'string') {
    const m = /^\s*(\d+)\s*(?::\s*(\d+)\s*)?$/.exec(value)
    if (m === null) fail(name, `must look like "4" or "1:4", got ${JSON.stringify(value)}`)
    const min = Number(m[1])
    return parseThreads(m[2] === undefined ? min : { min, max: Number(m[2]) }, name)
  }
  if (typeof value === 'number') {
    const n = integer(name, value, 0)
    return { min: n, max: n }
  }
  if (value !== null && typeof value === 'object') {
    const { min, max } = value as { min?: unknown, max?: unknown }
    const hi = integer(`${name}.max`, max, Number.NaN)
    if (Number.isNaN(hi)) fail(`${name}.max`, 'is required when threads is an object')
    const lo = integer(`${name}.min`, min, Math.min(1, hi))
    if (lo > hi) fail(`${name}.min`, `(${lo}) must not exceed ${name}.max (${hi})`)
    return { min: lo, max: hi }
  }
  return fail(name, `must be a number, "min:max" or { min, max }, got ${JSON.stringify(value)}`)
}

function defaultThreads (): { min: number, max: number } {
  const fromEnv = process.env[THREADS_ENV]
  if (fromEnv !== undefined && fromEnv !== '') return parseThreads(fromEnv, `${THREADS_ENV} (environment)`)
  return { min: 1, max: availableParallelism() }
}

/** `prefix` names a named pool's options in errors (`pools.reports.`); `pools` itself is pool-options.ts's. */
export function resolveCoreOptions (opts: CoreOptions, prefix = ''): ResolvedCoreOptions {
  const threads = opts.threads === undefined ? defaultThreads() : parseThreads(opts.threads, `${prefix}threads`)
  const resourceLimits = opts.resourceLimits
  if (resourceLimits !== undefined && (resourceLimits === null || typeof resourceLimits !== 'object')) {
    fail(`${prefix}resourceLimits`, 'must be an object such as { maxOldGenerationSizeMb: 512 }')
  }
  for (const [key, value] of Object.entries(resourceLimits ?? {})) {
    integer(`${prefix}resourceLimits.${key}`, value, 0, 1)
  }
  const taskTimeout = integer(`${prefix}taskTimeout`, opts.taskTimeout, 30_000)
  return {
    minThreads: threads.min,
    maxThreads: threads.max,
    maxQueue: integer(`${prefix}maxQueue`, opts.maxQueue, 512),
    idleTimeout: integer(`${prefix}idleTimeout`, opts.idleTimeout, 30_000),
    taskTimeout,
    queueTimeout: integer(`${prefix}queueTimeout`, opts.queueTimeout, taskTimeout),
    maxTasksPerThread: integer(`${prefix}maxTasksPerThread`, opts.maxTasksPerThread, 0),
    maxThreadMemory: integer(`${prefix}maxThreadMemory`, opts.maxThreadMemory, 0) * 1024 * 1024,
    resourceLimits,
    retryAfter: integer('retryAfter', opts.retryAfter, 5),
    closeTimeout: integer('closeTimeout', opts.closeTimeout, 30_000),
    isolation: isolation(opts.isolation, `${prefix}isolation`),
    streamBuffer: integer(`${prefix}streamBuffer`, opts.streamBuffer, 1024 * 1024, 1024)
  }
}

function isolation (value: unknown, name: string): Isolation {
  if (value === undefined) return 'thread'
  if (value !== 'thread' && value !== 'process') fail(name, `must be 'thread' or 'process', got ${JSON.stringify(value)}`)
  return value
}
