// The Fastify plugin: options → pool, route binding, startup checks, decorator, graceful close.

import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { TaskKind } from './marshal.js'
import { decodeRouteValue, deserializeError, ValueKind, type SerializedError } from './route-value.js'
import { bindHandler, kOffload, toModuleHref, type OffloadTarget, type RouteBinding, type TaskObserver } from './offload.js'
import { resolveOptions, type MpmOptions, type ResolvedOptions } from './options.js'
import { ThreadPool, type LoggerLike, type PoolStats } from './pool.js'
import { verifyHandlerModules, type OffloadedRoute } from './startup-check.js'
import { registerStatus } from './status/index.js'
import { registerReadiness } from './status/readiness.js'

export interface RunOptions {
  /** Export to call with the payload. Default: `default`. */
  export?: string
  /** ms the work may run (0 = no limit). Default: the plugin's taskTimeout. */
  timeout?: number
  /** Abort to drop the task if it is still waiting for a thread. */
  signal?: AbortSignal
}

/** `app.mpm`: the process's pool, for stats and for offloading work from ordinary handlers. */
export class Mpm {
  readonly options: ResolvedOptions
  readonly pool: ThreadPool
  readonly #log: LoggerLike
  readonly #observers: TaskObserver[] = []
  #closeBy: number | undefined

  constructor (options: ResolvedOptions, pool: ThreadPool, log: LoggerLike) {
    this.options = options
    this.pool = pool
    this.#log = log
  }

  stats (): PoolStats { return this.pool.stats() }

  /** Calls `observer` once for every offloaded request as it settles (status page, metrics, slow log). */
  onTask (observer: TaskObserver): void { this.#observers.push(observer) }

  /** Runs `export(payload)` from `moduleUrl` in a thread and resolves with what it returns. */
  async run<T = unknown> (moduleUrl: URL | string, payload?: unknown, opts: RunOptions = {}): Promise<T> {
    const signal = opts.signal
    const outcome = await this.pool.run(
      { k: TaskKind.Run, m: toModuleHref(moduleUrl), e: opts.export ?? 'default', id: 0, lv: 0, p: payload },
      { timeout: opts.timeout, signal: signal === undefined ? undefined : () => signal, log: this.#log })
    const value = outcome.vk === ValueKind.Error ? deserializeError(outcome.v as SerializedError) : decodeRouteValue(outcome)
    if (!outcome.ok) throw value
    return value as T
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

  /** @internal Binds an offloaded handler to this pool for one route. */
  bind (target: OffloadTarget, route: string, handlerTimeout?: number): RouteBinding {
    const timeout = target.timeout ?? (handlerTimeout !== undefined && handlerTimeout > 0 ? handlerTimeout : undefined)
    return { ...target, timeout, route, pool: this.pool, retryAfter: String(this.options.retryAfter), observers: this.#observers }
  }
}

const plugin: FastifyPluginAsync<MpmOptions> = async function fastifyMpm (fastify, opts) {
  // -- options --
  const options = resolveOptions(opts as MpmOptions & Record<string, unknown>)
  const pool = new ThreadPool({ ...options, log: fastify.log })
  const mpm = new Mpm(options, pool, fastify.log)
  const routes: OffloadedRoute[] = []

  // -- hooks --
  fastify.addHook('onRoute', (routeOptions) => {
    const target = (routeOptions.handler as { [kOffload]?: OffloadTarget } | undefined)?.[kOffload]
    if (target === undefined) return
    const route = `${String(routeOptions.method)} ${routeOptions.url}`
    routes.push({ route, target })
    // A route's own handlerTimeout (Fastify >= 5.8) also bounds its thread, unless offload() set one.
    const handlerTimeout = routeOptions.handlerTimeout ?? (fastify.initialConfig as { handlerTimeout?: number }).handlerTimeout
    routeOptions.handler = bindHandler(mpm.bind(target, route, handlerTimeout))
  })

  // Load every handler module once, in a thread, so a missing file or export fails ready().
  fastify.addHook('onReady', async () => {
    await verifyHandlerModules(pool, routes)
    fastify.log.info({ routes: routes.map(({ route, target }) => ({ route, module: target.href, export: target.exportName })) },
      routes.length === 0 ? 'fastify-mpm: no offloaded routes' : `fastify-mpm: offloaded routes: ${routes.map((r) => r.route).join(', ')}`)
  })

  // Status page, metrics and slow log: each off unless its option is set.
  await registerStatus(fastify, mpm, () => routes.map((r) => r.route))
  if (options.readiness !== null) registerReadiness(fastify, pool, options.readiness)

  // -- decorators --
  fastify.decorate('mpm', mpm)

  // -- close --
  // Fastify closes its server before running onClose hooks, and server.close() waits for every
  // request in flight: so refuse new work and bound the wait from preClose, where answers from then
  // on carry `Connection: close` (keep-alive clients cannot hold close() open) and a stuck task is
  // terminated after closeTimeout instead of holding close() forever.
  let closeTimer: NodeJS.Timeout | undefined
  fastify.addHook('preClose', async () => {
    pool.stopAccepting()
    const budget = mpm.closeBudget()
    closeTimer = setTimeout(() => {
      fastify.log.warn({ stats: pool.stats() }, `fastify-mpm: tasks still running after ${budget} ms (closeTimeout or the cluster's gracefulTimeout); terminating threads`)
      void pool.close()
    }, budget).unref()
  })
  fastify.addHook('onClose', async () => {
    await pool.drain(mpm.closeBudget())
    clearTimeout(closeTimer)
    await pool.close()
  })
}

declare module 'fastify' {
  interface FastifyInstance {
    mpm: Mpm
  }
}

export const mpm = fp(plugin, { fastify: '5.x', name: 'fastify-mpm' })
