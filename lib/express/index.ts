// `fastify-mpm/express`: the worker MPM for Express 4 and 5. createMpm() owns the process's pool
// (same options and defaults as the Fastify plugin); its methods are Express middleware for
// offloaded routes, the status page, metrics and readiness. Express itself is never imported:
// the adapter only speaks to req, res and next.

import type { Server } from 'node:http'
import { registerStandalone, type Standalone } from '../core/lifecycle.js'
import { handlerName } from '../core/startup-check.js'
import { Mpm, type RunOptions } from '../core/mpm.js'
import { offloadTarget, type OffloadOptions, type OffloadTarget, type TaskObserver } from '../core/offload-target.js'
import type { PoolStats } from '../core/pool.js'
import { addressCheck, FORBIDDEN, OperatorView, type Page } from '../status/operator-view.js'
import { endpoint } from '../status/options.js'
import { resolveReadiness, type ReadinessOptions } from '../status/readiness.js'
import { loopTimeSeam } from './loop-time.js'
import { offloadMiddleware, type OffloadContext } from './offload.js'
import { resolveExpressOptions, type ExpressMpmOptions, type ResolvedExpressOptions } from './options.js'
import type { ExpressRequest, ExpressResponse, Middleware } from './types.js'

/** Who may read the status page or metrics: IPs and CIDRs matched against the connection's address. */
export interface ExpressStatusOptions {
  /** Default: `['127.0.0.1', '::1']`. */
  allow?: string[]
}

export interface ExpressMetricsOptions extends ExpressStatusOptions {
  /** Node's process metrics (CPU, heap, event-loop lag, GC) beside the pool's, one series per process. */
  processMetrics?: boolean
}

export class ExpressMpm {
  /** The framework-free core: options, pool, routes. */
  readonly core: Mpm<ResolvedExpressOptions>
  readonly #view: OperatorView
  readonly #ctx: OffloadContext
  readonly #servers = new WeakSet<Server>()
  readonly #unregister: () => void
  readonly #targets: OffloadTarget[] = []
  #ready: Promise<void> | undefined
  readonly #loopTime: ReturnType<typeof loopTimeSeam> | undefined

  constructor (options: ResolvedExpressOptions) {
    this.core = new Mpm(options, options.logger)
    this.#view = new OperatorView(this.core, options.logger, options.slowTaskThreshold)
    if (options.advisor !== null) this.#loopTime = loopTimeSeam(this.#view.enableAdvisor(options.advisor, options.logger), this.core)
    this.#ctx = { mpm: this.core, log: options.logger, seen: (req, res) => this.#seen(req, res) }
    const standalone: Standalone = {
      ready: async () => await this.ready(),
      attach: (server) => this.attach(server),
      closeBefore: (deadline) => this.core.closeBefore(deadline),
      close: async () => await this.close(),
      retryAfter: options.retryAfter,
      threads: { min: options.minThreads, max: options.maxThreads },
      slots: this.core.pools.maxSlots()
    }
    this.#unregister = registerStandalone(standalone)
  }

  get options (): ResolvedExpressOptions { return this.core.options }

  /** Route middleware: runs `moduleUrl`'s export (default: `default`) in a worker thread. */
  offload (moduleUrl: URL | string, opts: OffloadOptions = {}): Middleware {
    const target = offloadTarget(moduleUrl, opts)
    // Express names the route only at its first request: a pool the options lack fails here, by handler.
    this.core.pools.get(target.poolName, `offload(${handlerName(target)})`)
    this.#targets.push(target)
    return offloadMiddleware(this.#ctx, target)
  }

  /** mod_status-style page: HTML, `?auto` (Apache tooling), `?json`, `?refresh=N`; cluster-wide under the cluster. */
  status (opts: ExpressStatusOptions = {}): Middleware {
    const allowed = this.#allow('status', opts)
    this.#view.enableStatus()
    return (req, res, next) => {
      this.#seen(req, res)
      if (!allowed(req)) { reply(res, FORBIDDEN); return }
      this.#view.statusPage(queryOf(req)).then((page) => reply(res, page), next)
    }
  }

  /** Prometheus metrics (prom-client), summed across the cluster's processes. */
  metrics (opts: ExpressMetricsOptions = {}): Middleware {
    const allowed = this.#allow('metrics', opts)
    const enabled = this.#view.enableMetrics()
    return (req, res, next) => {
      this.#seen(req, res)
      if (!allowed(req)) { reply(res, FORBIDDEN); return }
      enabled.then(async () => await this.#view.metricsPage()).then((page) => reply(res, page), next)
    }
  }

  /** 200 while this process takes work, 503 while it drains or its queue is saturated. */
  readiness (opts: Omit<ReadinessOptions, 'path'> = {}): Middleware {
    const resolved = resolveReadiness(opts) ?? resolveReadiness(true)
    return (req, res) => {
      this.#seen(req, res)
      reply(res, this.#view.readinessPage(resolved!))
    }
  }

  /** The default pool's stats, or those of the pool called `pool`. */
  stats (pool?: string): PoolStats { return this.core.stats(pool) }
  /** Every pool's stats, by name (`default` and the named pools). */
  poolStats (): Record<string, PoolStats> { return this.core.poolStats() }
  onTask (observer: TaskObserver): void { this.core.onTask(observer) }
  async run<T = unknown> (moduleUrl: URL | string, payload?: unknown, opts: RunOptions = {}): Promise<T> {
    return await this.core.run<T>(moduleUrl, payload, opts)
  }

  /**
   * Loads every offloaded module once, in a thread: a missing file or export rejects, naming it.
   * Express has no ready(): await this before listening (the cluster does it for you).
   */
  async ready (): Promise<void> {
    // Routes are named by their first request (Express says the method and path only then);
    // until then a handler is named by its file and export.
    this.#ready ??= this.core.verify([...this.core.routes, ...this.#targets
      .filter((target) => !this.core.routes.some((r) => r.target === target))
      .map((target) => ({ target }))])
    await this.#ready
  }

  /** Counts `server`'s requests and connections on the status page (done on the first request otherwise). */
  attach (server: Server): void { this.#attach(server) }

  #attach (server: Server, current?: ExpressResponse): void {
    if (this.#servers.has(server)) return
    this.#servers.add(server)
    this.#view.attach(server, current)
    this.#loopTime?.attach(server)
    // While closing, every answer ends its keep-alive connection, so server.close() is not held open.
    server.prependListener('request', (_req, res) => { if (this.core.pool.closing) res.setHeader('connection', 'close') })
  }

  /**
   * Refuses new offloaded work with 503, lets running tasks finish (up to closeTimeout), then
   * destroys the pool. With `server.close()`, what a graceful SIGTERM needs.
   */
  async close (): Promise<void> {
    this.#unregister()
    await this.core.close()
    this.#view.close()
    this.#loopTime?.close()
  }

  /** Found on a request: that request is counted too (its 'request' event has gone by). */
  #seen (req: ExpressRequest, res: ExpressResponse): void {
    this.#loopTime?.seen(req)
    const server = (req.socket as { server?: Server }).server
    if (server !== undefined) this.#attach(server, res)
  }

  #allow (name: string, opts: ExpressStatusOptions): (req: ExpressRequest) => boolean {
    const resolved = endpoint<never>(name, { ...opts }, '/')
    const check = resolved === null ? null : addressCheck(resolved)
    return (req) => check === null || check(req.socket.remoteAddress ?? '')
  }
}

function queryOf (req: ExpressRequest): Record<string, unknown> {
  const query = req.query
  return query !== null && typeof query === 'object' ? query as Record<string, unknown> : {}
}

function reply (res: ExpressResponse, page: Page): void {
  res.statusCode = page.status
  res.setHeader('cache-control', 'no-store')
  res.setHeader('content-type', page.type)
  res.end(page.body)
}

/** The worker MPM for an Express app; bad options throw here, naming the option. */
export function createMpm (options: ExpressMpmOptions = {}): ExpressMpm {
  return new ExpressMpm(resolveExpressOptions(options))
}

export type { ExpressMpmOptions } from './options.js'
export type { AdvisorOptions } from '../status/advisor.js'
export type { OffloadOptions, TaskEvent, TaskObserver, TaskResult } from '../core/offload-target.js'
export type { RunOptions } from '../core/mpm.js'
export type { PoolStats } from '../core/pool.js'
export type { OffloadHandler, OffloadLogger, OffloadReply, OffloadRequest, OffloadRouteGeneric } from '../core/types.js'
export type { ExpressRequest, ExpressResponse, Middleware, NextFunction } from './types.js'
export * as errors from '../core/errors.js'
