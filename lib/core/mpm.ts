// The per-process worker MPM, without a framework: the options, the pool, the offloaded routes
// and who observes them, run() for work from ordinary handlers, the startup check, and the close
// sequence. Each adapter (Fastify plugin, Express) owns one and translates requests for it.

import nodeCluster from 'node:cluster'
import { availableParallelism } from 'node:os'
import { TaskCost } from './batch.js'
import { TaskKind } from './marshal.js'
import { offloadTarget, type OffloadTarget, type TaskObserver } from './offload-target.js'
import type { ResolvedCoreOptions } from './options.js'
import { oversubscription } from './oversubscription.js'
import { ThreadPool, type LoggerLike, type PoolStats } from './pool.js'
import { decodeRouteValue, deserializeError, ValueKind, type SerializedError } from './route-value.js'
import type { RouteBinding } from './route-dispatch.js'
import { describeHandler, verifyHandlerModules, type CheckedHandler, type OffloadedRoute } from './startup-check.js'

export interface RunOptions {
  /** Export to call with the payload. Default: `default`. */
  export?: string
  /** ms the work may run (0 = no limit). Default: the plugin's taskTimeout. */
  timeout?: number
  /** Abort to drop the task if it is still waiting for a thread. */
  signal?: AbortSignal
}

/** `app.mpm` (Fastify) and `createMpm()`'s core (Express): the process's pool, for stats and run(). */
export class Mpm<O extends ResolvedCoreOptions = ResolvedCoreOptions> {
  readonly options: O
  readonly pool: ThreadPool
  /** Every offloaded route, as `METHOD /path`, with what it runs. */
  readonly routes: OffloadedRoute[] = []
  readonly #log: LoggerLike
  readonly #observers: TaskObserver[] = []
  #closeBy: number | undefined
  #closeTimer: NodeJS.Timeout | undefined

  /** `reqIdLabel`: the binding the framework's request loggers name the request id by. */
  constructor (options: O, log: LoggerLike, reqIdLabel?: string) {
    this.options = options
    this.pool = new ThreadPool({ ...options, log, reqIdLabel })
    this.#log = log
    // In a cluster (fastify-mpm start) the primary checks every process's pool together.
    const warning = nodeCluster.isPrimary ? oversubscription([options.maxThreads], availableParallelism(), 'leave `threads` at its default (sized from the cores) or lower it') : undefined
    if (warning !== undefined) log.warn({ maxThreads: options.maxThreads, cores: availableParallelism(), reason: 'oversubscribed' }, `fastify-mpm: ${warning}`)
  }

  stats (): PoolStats { return this.pool.stats() }

  /** Calls `observer` once for every offloaded request as it settles (status page, metrics, slow log). */
  onTask (observer: TaskObserver): void { this.#observers.push(observer) }

  /** Runs `export(payload)` from `moduleUrl` in a thread and resolves with what it returns. */
  async run<T = unknown> (moduleUrl: URL | string, payload?: unknown, opts: RunOptions = {}): Promise<T> {
    const target = offloadTarget(moduleUrl, { export: opts.export, timeout: opts.timeout })
    const signal = opts.signal
    const outcome = await this.pool.run(
      { k: TaskKind.Run, m: target.href, e: target.exportName, id: 0, lv: 0, p: payload },
      { timeout: target.timeout, signal, log: this.#log })
    const value = outcome.vk === ValueKind.Error ? deserializeError(outcome.v as SerializedError) : decodeRouteValue(outcome)
    if (!outcome.ok) throw value
    return value as T
  }

  /** @internal Adds an offloaded route and binds its handler to this pool. */
  addRoute (target: OffloadTarget, route: string, handlerTimeout?: number): RouteBinding {
    this.routes.push({ route, target })
    return this.bind(target, route, handlerTimeout)
  }

  /** @internal Binds an offloaded handler to this pool for one route. */
  bind (target: OffloadTarget, route: string, handlerTimeout?: number): RouteBinding {
    const timeout = target.timeout ?? (handlerTimeout !== undefined && handlerTimeout > 0 ? handlerTimeout : undefined)
    return { ...target, timeout, route, pool: this.pool, retryAfter: String(this.options.retryAfter), observers: this.#observers, cost: new TaskCost() }
  }

  /** Loads every route's module once, in a thread, so a missing file or export fails at startup; logs the routes. */
  async verify (routes: CheckedHandler[] = this.routes): Promise<void> {
    await verifyHandlerModules(this.pool, routes)
    this.#log.info({ routes: routes.map(({ route, target }) => ({ route, module: target.href, export: target.exportName })) },
      routes.length === 0 ? 'fastify-mpm: no offloaded routes' : `fastify-mpm: offloaded routes: ${routes.map(describeHandler).join(', ')}`)
  }

  /**
   * @internal The cluster child's deadline: the primary kills it when its grace period ends, so a
   * request still running must be answered (503, Connection: close) before then, whatever closeTimeout says.
   */
  closeBefore (deadline: number): void { this.#closeBy = deadline }

  /** @internal ms close() may wait for running tasks: closeTimeout, or less when a deadline is set. */
  closeBudget (): number {
    const { closeTimeout } = this.options
    return this.#closeBy === undefined ? closeTimeout : Math.max(0, Math.min(closeTimeout, this.#closeBy - Date.now()))
  }

  /**
   * The first step of closing: new offloaded work gets 503 FST_MPM_CLOSING (and answers
   * `Connection: close`), and tasks still running after the close budget are terminated, so
   * neither keep-alive clients nor a stuck handler can hold the server's close open.
   */
  stopAccepting (): void {
    if (this.#closeTimer !== undefined) return
    this.pool.stopAccepting()
    const budget = this.closeBudget()
    this.#closeTimer = setTimeout(() => {
      this.#log.warn({ stats: this.pool.stats() }, `fastify-mpm: tasks still running after ${budget} ms (closeTimeout or the cluster's gracefulTimeout); terminating threads`)
      void this.pool.close()
    }, budget).unref()
  }

  /** Waits for running and queued tasks (within the close budget), then destroys the pool. */
  async close (): Promise<void> {
    this.stopAccepting()
    await this.pool.drain(this.closeBudget())
    clearTimeout(this.#closeTimer)
    await this.pool.close()
  }
}
