// The operator view of one process, without a framework: the status page (HTML, ?auto, ?json)
// and metrics as text to send, the readiness answer, who may read them, the slow log, the
// counters they read, and this process's answers to the cluster primary. Adapters mount these
// as routes (Fastify) or middleware (Express) and hand over their http.Server.

import type { Server, ServerResponse } from 'node:http'
import type { Mpm } from '../core/mpm.js'
import type { LoggerLike } from '../core/pool.js'
import { DEFAULT_POOL } from '../core/pool-options.js'
import { compileAllow, type AllowCheck } from './allow.js'
import { ConnectionTracker, NO_CONNECTIONS, type ConnectionCounts } from './connections.js'
import type { ResolvedEndpoint, ResolvedView } from './options.js'
import { notReady, type ResolvedReadiness } from './readiness.js'
import { Advisor, type ResolvedAdvisor } from './advisor.js'
import { addChildProvider, askPrimary, inCluster, type ChildProvider } from './relay.js'
import { renderAuto } from './render-auto.js'
import { renderHtml } from './render-html.js'
import { bodyBytes, countBodyBytes } from './response-bytes.js'
import { LocalStatus, type PoolSource, type ProcessSnapshot } from './scoreboard.js'
import { slowLog } from './slowlog.js'
import { summarize, type ServerStatus } from './summary.js'

// Longer than the primary's per-child timeout, so a slow child shows as such instead of the
// whole page falling back to this process alone.
const ASK_PRIMARY_TIMEOUT = 2500
const MAX_REFRESH = 3600

export interface Page { status: number, type: string, body: string }

export class OperatorView {
  readonly #mpm: Mpm
  readonly #provider: ChildProvider = {}
  readonly #cleanups: Array<() => void> = []
  #local: LocalStatus | undefined
  #tracker: ConnectionTracker | undefined
  #metricsReady: Promise<void> | undefined
  #advisor: Advisor | undefined
  #loopMetric: ((route: string, offloaded: boolean) => (seconds: number) => void) | undefined
  readonly #server = new WeakSet<Server>()

  constructor (mpm: Mpm, log: LoggerLike, slowTaskThreshold: number) {
    this.#mpm = mpm
    if (slowTaskThreshold > 0) mpm.onTask(slowLog(log, slowTaskThreshold))
    this.#cleanups.push(addChildProvider(this.#provider))
  }

  /**
   * Counts requests served and connections on `server` from now on (once per server); `current`,
   * the response of a request already under way when the server was found, is counted too.
   */
  attach (server: Server, current?: ServerResponse): void {
    if (this.#server.has(server)) return
    this.#server.add(server)
    this.#tracker ??= new ConnectionTracker(server)
    const count = (res: ServerResponse): void => {
      const local = this.#local
      // Without the status page nobody reads the counters: nothing is wrapped or listened to.
      if (local === undefined) return
      countBodyBytes(res)
      res.once('finish', () => local.served(bodyBytes(res)))
    }
    // Before the app's own listener, which may answer at once (a synchronous Express route).
    server.prependListener('request', (_req, res) => count(res))
    if (current !== undefined) count(current)
  }

  readonly connections = (): ConnectionCounts => this.#tracker?.counts() ?? NO_CONNECTIONS

  // -- status page ---------------------------------------------------------------------------------

  /** Starts keeping the status page's counters (call once the page is mounted). */
  enableStatus (): void {
    if (this.#local !== undefined) return
    const pool = this.#mpm.pool
    const routes = (): Array<{ route: string, pool: string }> => this.#mpm.routes.map((r) => ({ route: r.route, pool: r.target.poolName ?? DEFAULT_POOL }))
    const local = new LocalStatus({ pools: () => this.#poolSources(), closing: () => pool.closing, connections: this.connections, routes })
    this.#mpm.onTask(local.task)
    this.#provider.snapshot = (workerId) => this.#withLoopTime(local.snapshot(workerId))
    this.#local = local
  }

  /** Each pool as the scoreboard and metrics read it, the default one first. */
  #poolSources (): PoolSource[] {
    return this.#mpm.pools.list.map(({ name, pool, isolation }) => ({ name, isolation, stats: () => pool.stats(), slots: () => pool.slots() }))
  }

  // -- advisor -------------------------------------------------------------------------------------

  /** Starts the advisor (per-route event-loop time); the adapter's seam feeds what this returns. */
  enableAdvisor (opts: ResolvedAdvisor, log: LoggerLike): Advisor {
    this.#advisor ??= new Advisor(opts, log)
    this.#observeLoopTime()
    return this.#advisor
  }

  #withLoopTime (snapshot: ProcessSnapshot): ProcessSnapshot {
    return this.#advisor === undefined ? snapshot : { ...snapshot, loopTime: this.#advisor.times.snapshot() }
  }

  #observeLoopTime (): void {
    const metric = this.#loopMetric
    if (metric !== undefined) this.#advisor?.observeWith((row) => metric(row.route, row.offloaded))
  }

  /** The page for a query (`?auto`, `?json`, `?refresh=N`, or HTML), cluster-wide when in a cluster. */
  async statusPage (query: Record<string, unknown>): Promise<Page> {
    this.enableStatus()
    const data = await this.#current(this.#local as LocalStatus)
    if ('json' in query) return { status: 200, type: 'application/json; charset=utf-8', body: JSON.stringify(data) }
    if ('auto' in query) return { status: 200, type: 'text/plain; charset=utf-8', body: renderAuto(data) }
    return { status: 200, type: 'text/html; charset=utf-8', body: renderHtml(data, { refresh: refresh(query.refresh) }) }
  }

  async #current (local: LocalStatus): Promise<ServerStatus> {
    if (inCluster()) {
      const gathered = await askPrimary('status', ASK_PRIMARY_TIMEOUT)
      if (gathered !== null) {
        return summarize({ mode: 'cluster', pid: gathered.primary.pid, startedAt: gathered.primary.startedAt, processRestarts: gathered.primary.restarts, processRecycles: gathered.primary.recycles, processes: gathered.processes, ...this.#advice() })
      }
      const note = 'The cluster primary did not answer in time: this page shows only the process that served it.'
      return summarize({ mode: 'cluster', pid: process.pid, startedAt: local.startedAt, processRestarts: 0, note, processes: [this.#withLoopTime(local.snapshot())], ...this.#advice() })
    }
    return summarize({ mode: 'single', pid: process.pid, startedAt: local.startedAt, processRestarts: 0, processes: [this.#withLoopTime(local.snapshot())], ...this.#advice() })
  }

  #advice (): { thresholdMs?: number } {
    return this.#advisor === undefined ? {} : { thresholdMs: this.#advisor.thresholdMs }
  }

  // -- metrics -------------------------------------------------------------------------------------

  /** Starts keeping the metrics (call once the endpoint is mounted). */
  async enableMetrics (): Promise<void> {
    this.#metricsReady ??= (async () => {
      const { addMetricsSource, localMetricsJSON, loopTimeObserver } = await import('./metrics.js')
      this.#loopMetric = loopTimeObserver
      this.#observeLoopTime()
      const source = addMetricsSource({ pools: this.#poolSources(), connections: this.connections })
      this.#mpm.onTask(source.observe)
      this.#cleanups.push(source.remove)
      this.#provider.metrics = localMetricsJSON
    })()
    await this.#metricsReady
  }

  async metricsPage (): Promise<Page> {
    await this.enableMetrics()
    const { localMetrics } = await import('./metrics.js')
    const result = (inCluster() ? await askPrimary('metrics', ASK_PRIMARY_TIMEOUT) : null) ?? await localMetrics()
    return { status: 200, type: result.contentType, body: result.text }
  }

  // -- readiness -----------------------------------------------------------------------------------

  readinessPage (opts: ResolvedReadiness): Page {
    const why = notReady(this.#mpm.pools.list, opts)
    return why === undefined
      ? { status: 200, type: 'text/plain; charset=utf-8', body: 'ready\n' }
      : { status: 503, type: 'text/plain; charset=utf-8', body: `not ready: ${why}\n` }
  }

  close (): void { for (const cleanup of this.#cleanups.splice(0)) cleanup() }
}

/** Who may read an endpoint, by the connection's address (never a forwarded header); null: no check. */
export function addressCheck (endpoint: ResolvedEndpoint<unknown>): AllowCheck | null {
  return endpoint.allow === null ? null : compileAllow(endpoint.allow)
}

export const FORBIDDEN: Page = Object.freeze({ status: 403, type: 'text/plain; charset=utf-8', body: 'Forbidden\n' })

/** `/x` and `/x/` alike, as Apache answers `/server-status/` like `/server-status` (its tooling asks for the former). */
export function withTrailingSlash (path: string): string[] {
  if (path === '/') return [path]
  return path.endsWith('/') ? [path, path.slice(0, -1)] : [path, `${path}/`]
}

function refresh (value: unknown): number {
  const n = Number(Array.isArray(value) ? value[0] : value)
  return Number.isInteger(n) && n > 0 ? Math.min(n, MAX_REFRESH) : 0
}

export type { ResolvedView }
