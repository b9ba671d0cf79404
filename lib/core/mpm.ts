// The per-process worker MPM, without a framework: the options, the pools (pools.ts), the
// offloaded routes and who observes them, run() for work from ordinary handlers, the startup
// check, and the close sequence. Each adapter (Fastify plugin, Express) owns one and translates
// requests for it.

import nodeCluster from 'node:cluster'
import { availableParallelism } from 'node:os'
import { TaskCost } from './batch.js'
import { FST_MPM_INVALID_HANDLER } from './errors.js'
import { TaskKind } from './marshal.js'
import { offloadTarget, type OffloadTarget, type TaskObserver } from './offload-target.js'
import type { ResolvedCoreOptions } from './options.js'
import { oversubscription } from './oversubscription.js'
import type { ResolvedNamedPool } from './pool-options.js'
import type { LoggerLike, PoolStats, ThreadPool } from './pool.js'
import { Pools } from './pools.js'
import { decodeRouteValue, deserializeError, ValueKind, type SerializedError } from './route-value.js'
import type { RouteBinding } from './route-dispatch.js'
import { describeHandler, handlerName, verifyHandlerModules, type CheckedHandler, type OffloadedRoute } from './startup-check.js'

export interface RunOptions {
  /** Export to call with the payload. Default: `default`. */
  export?: string
  /** ms the work may run (0 = no limit). Default: the plugin's taskTimeout. */
  timeout?: number
  /** Abort to drop the task if it is still waiting for a thread. */
  signal?: AbortSignal
  /** The named pool (the `pools` option) to run it in. Default: the default pool. */
  pool?: string
}

/** What an Mpm is built from: the default pool's options and the named pools. */
export type MpmCoreOptions = ResolvedCoreOptions & { pools?: ResolvedNamedPool[] }

/** `app.mpm` (Fastify) and `createMpm()`'s core (Express): the process's pools, for stats and run(). */
export class Mpm<O extends MpmCoreOptions = MpmCoreOptions> {
  readonly options: O
  /** The default pool (the top-level options). */
  readonly pool: ThreadPool
  /** @internal Every pool, the default one first. */
  readonly pools: Pools
  /** Every offloaded route, as `METHOD /path`, with what it runs. */
  readonly routes: OffloadedRoute[] = []
  readonly #log: LoggerLike
  readonly #observers: TaskObserver[] = []
  #closeBy: number | undefined
  #closeTimer: NodeJS.Timeout | undefined

  /** `reqIdLabel`: the binding the framework's request loggers name the request id by. */
  constructor (options: O, log: LoggerLike, reqIdLabel?: string) {
    this.options = options
    this.pools = new Pools(options, options.pools ?? [], log, reqIdLabel)
    this.pool = this.pools.default.pool
    this.#log = log
    // In a cluster (fastify-mpm start) the primary checks every process's pools together.
    const slots = this.pools.maxSlots()
    const advice = this.pools.list.length > 1 ? 'lower the pools\' `threads` (every pool\'s threads add up)' : 'leave `threads` at its default (sized from the cores) or lower it'
    const warning = nodeCluster.isPrimary ? oversubscription([slots], availableParallelism(), advice) : undefined
    if (warning !== undefined) log.warn({ maxThreads: slots, pools: this.pools.names(), cores: availableParallelism(), reason: 'oversubscribed' }, `fastify-mpm: ${warning}`)
  }

  /** The default pool's stats, or those of the pool called `pool`. */
  stats (pool?: string): PoolStats { return this.pools.get(pool, 'stats()').pool.stats() }

  /** Every pool's stats, by name (`default` and the named pools). */
  poolStats (): Record<string, PoolStats> { return this.pools.stats() }

  /** Calls `observer` once for every offloaded request as it settles (status page, metrics, slow log). */
  onTask (observer: TaskObserver): void { this.#observers.push(observer) }

  /** Runs `export(payload)` from `moduleUrl` in a thread and resolves with what it returns. */
  async run<T = unknown> (moduleUrl: URL | string, payload?: unknown, opts: RunOptions = {}): Promise<T> {
    const target = offloadTarget(moduleUrl, { export: opts.export, timeout: opts.timeout })
    const signal = opts.signal
    const { pool } = this.pools.get(opts.pool, 'run()')
    const outcome = await pool.run(
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

  /**
   * @internal Binds an offloaded handler to its pool for one route; a pool the options do not
   * name fails here, when the route is declared.
   */
  bind (target: OffloadTarget, route: string, handlerTimeout?: number): RouteBinding {
    const timeout = target.timeout ?? (handlerTimeout !== undefined && handlerTimeout > 0 ? handlerTimeout : undefined)
    const { name, pool } = this.pools.get(target.poolName, `route ${route}`)
    // A body streamed in crosses to a thread only (stream-relay.ts): say so where the route is declared.
    if (target.streamBody === true && pool.options.isolation === 'process') {
      throw new FST_MPM_INVALID_HANDLER(`route ${route}: body: 'stream' needs a thread pool; pool "${name}" runs its handlers in processes (isolation: 'process')`)
    }
    return { ...target, timeout, route, pool, poolName: name, retryAfter: String(this.options.retryAfter), observers: this.#observers, cost: new TaskCost() }
  }

  /**
   * Loads every route's module once, in a thread of the route's own pool, so a missing file or
   * export (or a pool name the options lack) fails at startup; logs the routes.
   */
  async verify (routes: CheckedHandler[] = this.routes): Promise<void> {
    for (const { name, pool } of this.pools.list) {
      const own = routes.filter(({ route, target }) => this.pools.get(target.poolName, route === undefined ? `offload(${handlerName(target)})` : `route ${route}`).name === name)
      await verifyHandlerModules(pool, own)
    }
    const pooled = (h: CheckedHandler): string => h.target.poolName === undefined ? describeHandler(h) : `${describeHandler(h)} (pool ${h.target.poolName})`
    // A route in a named pool says so; the others' entries stay as they were before pools.
    this.#log.info({ routes: routes.map(({ route, target }) => ({ route, module: target.href, export: target.exportName, ...(target.poolName === undefined ? {} : { pool: target.poolName }) })) },
      routes.length === 0 ? 'fastify-mpm: no offloaded routes' : `fastify-mpm: offloaded routes: ${routes.map(pooled).join(', ')}`)
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
    this.pools.stopAccepting()
    const budget = this.closeBudget()
    this.#closeTimer = setTimeout(() => {
      const stats = this.pools.list.length === 1 ? this.pool.stats() : this.pools.stats()
      this.#log.warn({ stats }, `fastify-mpm: tasks still running after ${budget} ms (closeTimeout or the cluster's gracefulTimeout); terminating threads`)
      void this.pools.close()
    }, budget).unref()
  }

  /** Waits for running and queued tasks of every pool (within the close budget), then destroys the pools. */
  async close (): Promise<void> {
    this.stopAccepting()
    await this.pools.drain(this.closeBudget())
    clearTimeout(this.#closeTimer)
    await this.pools.close()
  }
}
