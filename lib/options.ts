import { availableParallelism } from 'node:os'
import type { ResourceLimits } from 'node:worker_threads'
import type { onRequestHookHandler } from 'fastify'
import { FST_MPM_INVALID_OPTION } from './errors.js'
import { checkAllowList } from './status/allow.js'
import { resolveReadiness, type ReadinessOptions, type ResolvedReadiness } from './status/readiness.js'

/** Thread bounds, like Puma's `threads min,max`; a number means min = max. 0 runs handlers inline. */
export type ThreadsOption = number | { min?: number, max: number }

/** Where the operator view is served and who may read it. */
export interface StatusOptions {
  /** Default: `/server-status` (metrics: `/metrics`). */
  path?: string
  /** IPs and CIDRs allowed to read it; others get 403. Default: `['127.0.0.1', '::1']`, or none when `onRequest` is given. */
  allow?: string[]
  /** Your own guard (a token check, say), run as the route's onRequest hook after `allow`. */
  onRequest?: onRequestHookHandler
}

export interface MpmOptions {
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
  /** mod_status-style page (HTML, `?auto`, `?json`), cluster-wide. Off by default; `true` = defaults. */
  status?: boolean | StatusOptions
  /** Prometheus metrics (prom-client), cluster-wide. Off by default; `true` = defaults. */
  metrics?: boolean | StatusOptions
  /** ms after which a finished offloaded task is logged as slow (PHP-FPM slowlog); 0 = off. Default 0. */
  slowTaskThreshold?: number
  /** Readiness endpoint for load balancers and Kubernetes (200 / 503). Off by default; `true` = `/ready`. */
  readiness?: boolean | ReadinessOptions
}

export interface ResolvedEndpoint {
  path: string
  /** null: no address check (an onRequest guard was given instead). */
  allow: string[] | null
  onRequest: onRequestHookHandler | undefined
}

export interface ResolvedOptions {
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
  status: ResolvedEndpoint | null
  metrics: ResolvedEndpoint | null
  slowTaskThreshold: number
  readiness: ResolvedReadiness | null
}

/** Set by the cluster CLI (`--threads 1:4`) so every child gets the same defaults; explicit options win. */
export const THREADS_ENV = 'FASTIFY_MPM_THREADS'

// Keys Fastify itself passes to every plugin through `register(plugin, opts)`.
const REGISTER_KEYS = new Set(['prefix', 'logLevel', 'logSerializers', 'encapsulate'])
const KNOWN_KEYS = new Set(['threads', 'maxQueue', 'idleTimeout', 'taskTimeout', 'queueTimeout', 'maxTasksPerThread',
  'resourceLimits', 'retryAfter', 'closeTimeout', 'status', 'metrics', 'slowTaskThreshold', 'maxThreadMemory', 'readiness'])
const ENDPOINT_KEYS = new Set(['path', 'allow', 'onRequest'])
const LOOPBACK = ['127.0.0.1', '::1']

function fail (name: string, problem: string): never {
  throw new FST_MPM_INVALID_OPTION(name, problem)
}

function integer (name: string, value: unknown, fallback: number, min = 0): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    fail(name, `must be an integer >= ${min}, got ${JSON.stringify(value)}`)
  }
  return value
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

function endpoint (name: string, value: unknown, defaultPath: string): ResolvedEndpoint | null {
  if (value === undefined || value === false) return null
  if (value === true) return { path: defaultPath, allow: LOOPBACK, onRequest: undefined }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail(name, `must be true or an object such as { path: '${defaultPath}', allow: ['127.0.0.1'] }, got ${JSON.stringify(value)}`)
  }
  const opts = value as Record<string, unknown>
  for (const key of Object.keys(opts)) {
    if (!ENDPOINT_KEYS.has(key)) fail(`${name}.${key}`, `is not a ${name} option (known: ${[...ENDPOINT_KEYS].join(', ')})`)
  }
  const path = opts.path ?? defaultPath
  if (typeof path !== 'string' || !path.startsWith('/') || /[?#\s]/.test(path)) {
    fail(`${name}.path`, `must be a URL path starting with "/", got ${JSON.stringify(path)}`)
  }
  if (opts.onRequest !== undefined && typeof opts.onRequest !== 'function') {
    fail(`${name}.onRequest`, `must be a Fastify onRequest hook (request, reply) => ..., got ${typeof opts.onRequest}`)
  }
  let allow: string[] | null = null
  if (opts.allow !== undefined) {
    const problem = checkAllowList(opts.allow)
    if (problem !== null) fail(`${name}.allow`, problem)
    allow = [...opts.allow as string[]]
  } else if (opts.onRequest === undefined) {
    allow = LOOPBACK
  }
  return { path, allow, onRequest: opts.onRequest as onRequestHookHandler | undefined }
}

function defaultThreads (): { min: number, max: number } {
  const fromEnv = process.env[THREADS_ENV]
  if (fromEnv !== undefined && fromEnv !== '') return parseThreads(fromEnv, `${THREADS_ENV} (environment)`)
  return { min: 1, max: availableParallelism() }
}

export function resolveOptions (opts: MpmOptions & Record<string, unknown> = {}): ResolvedOptions {
  if (opts === null || typeof opts !== 'object') fail('options', 'must be an object')
  for (const key of Object.keys(opts)) {
    if (!KNOWN_KEYS.has(key) && !REGISTER_KEYS.has(key)) {
      fail(key, `is not a fastify-mpm option (known: ${[...KNOWN_KEYS].join(', ')})`)
    }
  }
  const threads = opts.threads === undefined ? defaultThreads() : parseThreads(opts.threads)
  const resourceLimits = opts.resourceLimits
  if (resourceLimits !== undefined && (resourceLimits === null || typeof resourceLimits !== 'object')) {
    fail('resourceLimits', 'must be an object such as { maxOldGenerationSizeMb: 512 }')
  }
  for (const [key, value] of Object.entries(resourceLimits ?? {})) {
    integer(`resourceLimits.${key}`, value, 0, 1)
  }
  const taskTimeout = integer('taskTimeout', opts.taskTimeout, 30_000)
  return {
    minThreads: threads.min,
    maxThreads: threads.max,
    maxQueue: integer('maxQueue', opts.maxQueue, 512),
    idleTimeout: integer('idleTimeout', opts.idleTimeout, 30_000),
    taskTimeout,
    queueTimeout: integer('queueTimeout', opts.queueTimeout, taskTimeout),
    maxTasksPerThread: integer('maxTasksPerThread', opts.maxTasksPerThread, 0),
    maxThreadMemory: integer('maxThreadMemory', opts.maxThreadMemory, 0) * 1024 * 1024,
    resourceLimits,
    retryAfter: integer('retryAfter', opts.retryAfter, 5),
    closeTimeout: integer('closeTimeout', opts.closeTimeout, 30_000),
    ...endpoints(opts),
    slowTaskThreshold: integer('slowTaskThreshold', opts.slowTaskThreshold, 0)
  }
}

function endpoints (opts: MpmOptions): Pick<ResolvedOptions, 'status' | 'metrics' | 'readiness'> {
  const status = endpoint('status', opts.status, '/server-status')
  const metrics = endpoint('metrics', opts.metrics, '/metrics')
  if (status !== null && metrics !== null && status.path === metrics.path) {
    fail('metrics.path', `must differ from status.path (both are "${status.path}")`)
  }
  const readiness = resolveReadiness(opts.readiness)
  for (const [name, other] of [['status', status], ['metrics', metrics]] as const) {
    if (readiness !== null && other !== null && readiness.path === other.path) {
      fail('readiness.path', `must differ from ${name}.path (both are "${other.path}")`)
    }
  }
  return { status, metrics, readiness }
}
