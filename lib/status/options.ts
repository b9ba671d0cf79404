// The operator view's options (status page, metrics, readiness, slow log): where each is
// served and who may read it. The guard type is the adapter's (a Fastify onRequest hook, an
// Express middleware), so this module stays free of both.

import { fail, integer } from '../core/options.js'
import { resolveAdvisor, type AdvisorOptions, type ResolvedAdvisor } from './advisor.js'
import { checkAllowList } from './allow.js'
import { enableProcessMetrics } from './process-metrics.js'
import { resolveReadiness, type ReadinessOptions, type ResolvedReadiness } from './readiness.js'

/** Where the operator view is served and who may read it. */
export interface StatusOptions<Guard = (...args: any[]) => unknown> {
  /** Default: `/server-status` (metrics: `/metrics`). */
  path?: string
  /** IPs and CIDRs allowed to read it; others get 403. Default: `['127.0.0.1', '::1']`, or none when `onRequest` is given. */
  allow?: string[]
  /** Your own guard (a token check, say), run after `allow`. */
  onRequest?: Guard
  /**
   * Metrics only: also serve Node's process metrics (prom-client's collectDefaultMetrics: CPU,
   * heap, event-loop lag, GC…), one series per process, labelled `pid`. Default false.
   */
  processMetrics?: boolean
}

export interface ViewOptions<Guard = (...args: any[]) => unknown> {
  /** mod_status-style page (HTML, `?auto`, `?json`), cluster-wide. Off by default; `true` = defaults. */
  status?: boolean | StatusOptions<Guard>
  /** Prometheus metrics (prom-client), cluster-wide. Off by default; `true` = defaults. */
  metrics?: boolean | StatusOptions<Guard>
  /** ms after which a finished offloaded task is logged as slow (PHP-FPM slowlog); 0 = off. Default 0. */
  slowTaskThreshold?: number
  /** Readiness endpoint for load balancers and Kubernetes (200 / 503). Off by default; `true` = `/ready`. */
  readiness?: boolean | ReadinessOptions
  /**
   * Which routes to offload: measures how long each route holds the event loop, shown on the
   * status page (`loopTime`), in metrics and as one warn line per route past `thresholdMs` at p99.
   * Default on: `{ thresholdMs: 20, window: 300000 }`; `false` = off.
   */
  advisor?: boolean | AdvisorOptions
}

export interface ResolvedEndpoint<Guard = (...args: any[]) => unknown> {
  path: string
  /** null: no address check (an onRequest guard was given instead). */
  allow: string[] | null
  onRequest: Guard | undefined
  /** metrics only: Node's default process metrics are collected too */
  processMetrics?: boolean
}

export interface ResolvedView<Guard = (...args: any[]) => unknown> {
  status: ResolvedEndpoint<Guard> | null
  metrics: ResolvedEndpoint<Guard> | null
  slowTaskThreshold: number
  readiness: ResolvedReadiness | null
  advisor: ResolvedAdvisor | null
}

export const VIEW_KEYS: ReadonlySet<string> = new Set(['status', 'metrics', 'slowTaskThreshold', 'readiness', 'advisor'])
const ENDPOINT_KEYS = new Set(['path', 'allow', 'onRequest'])
const LOOPBACK = ['127.0.0.1', '::1']

export function resolveViewOptions<Guard> (opts: ViewOptions<Guard>, guardKind = 'a function'): ResolvedView<Guard> {
  const status = endpoint<Guard>('status', opts.status, '/server-status', guardKind)
  const metrics = endpoint<Guard>('metrics', opts.metrics, '/metrics', guardKind)
  if (status !== null && metrics !== null && status.path === metrics.path) {
    fail('metrics.path', `must differ from status.path (both are "${status.path}")`)
  }
  const readiness = resolveReadiness(opts.readiness)
  for (const [name, other] of [['status', status], ['metrics', metrics]] as const) {
    if (readiness !== null && other !== null && readiness.path === other.path) {
      fail('readiness.path', `must differ from ${name}.path (both are "${other.path}")`)
    }
  }
  return { status, metrics, readiness, slowTaskThreshold: integer('slowTaskThreshold', opts.slowTaskThreshold, 0), advisor: resolveAdvisor(opts.advisor) }
}

export function endpoint<Guard> (name: string, value: unknown, defaultPath: string, guardKind = 'a function'): ResolvedEndpoint<Guard> | null {
  if (value === undefined || value === false) return null
  if (value === true) return { path: defaultPath, allow: LOOPBACK, onRequest: undefined }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail(name, `must be true or an object such as { path: '${defaultPath}', allow: ['127.0.0.1'] }, got ${JSON.stringify(value)}`)
  }
  const opts = value as Record<string, unknown>
  const known = name === 'metrics' ? [...ENDPOINT_KEYS, 'processMetrics'] : [...ENDPOINT_KEYS]
  for (const key of Object.keys(opts)) {
    if (!known.includes(key)) fail(`${name}.${key}`, `is not a ${name} option (known: ${known.join(', ')})`)
  }
  if (opts.processMetrics !== undefined && typeof opts.processMetrics !== 'boolean') {
    fail(`${name}.processMetrics`, `must be a boolean, got ${JSON.stringify(opts.processMetrics)}`)
  }
  const path = opts.path ?? defaultPath
  if (typeof path !== 'string' || !path.startsWith('/') || /[?#\s]/.test(path)) {
    fail(`${name}.path`, `must be a URL path starting with "/", got ${JSON.stringify(path)}`)
  }
  if (opts.onRequest !== undefined && typeof opts.onRequest !== 'function') {
    fail(`${name}.onRequest`, `must be ${guardKind}, got ${typeof opts.onRequest}`)
  }
  let allow: string[] | null = null
  if (opts.allow !== undefined) {
    const problem = checkAllowList(opts.allow)
    if (problem !== null) fail(`${name}.allow`, problem)
    allow = [...opts.allow as string[]]
  } else if (opts.onRequest === undefined) {
    allow = LOOPBACK
  }
  // Collection starts as the options are read: the registry is per process and global, and
  // the first scrape must already see the series. (The operator view's enableMetrics() is the
  // natural home for this call; it lives here so one place serves both adapters.)
  const processMetrics = opts.processMetrics === true && enableProcessMetrics()
  return { path, allow, onRequest: opts.onRequest as Guard | undefined, ...(processMetrics ? { processMetrics } : {}) }
}

