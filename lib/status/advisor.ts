// The advisor ("which routes to offload"): its option, and the per-process object the seams feed.
// It owns the warn line (one per route, at most hourly, when the route's p99 passes the
// threshold) and hands each measurement to the metrics histogram once metrics are on.

import { performance } from 'node:perf_hooks'
import { fail } from '../core/options.js'
import type { LoggerLike } from '../core/pool.js'
import { loopReport } from './loop-report.js'
import { LoopTimes, type LoopRow } from './loop-time.js'

export interface AdvisorOptions {
  /** ms of blocked event loop at p99 past which a route is flagged and logged. Default 20. */
  thresholdMs?: number
  /** ms of history the figures cover (sliding, in steps of a fifth). Default 300 000 (5 minutes). */
  window?: number
}

export interface ResolvedAdvisor { thresholdMs: number, window: number }

export const ADVISOR_DEFAULTS: ResolvedAdvisor = Object.freeze({ thresholdMs: 20, window: 300_000 })
const WARN_EVERY_MS = 3_600_000

export function resolveAdvisor (value: unknown): ResolvedAdvisor | null {
  // Off unless asked for: timing every handler through Fastify's tracing channel cost a trivial
  // offloaded route ~6 % of its req/s at 10 connections (bench/RESULTS.md), past the 3 % a default may.
  if (value === undefined || value === false) return null
  if (value === true) return { ...ADVISOR_DEFAULTS }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail('advisor', `must be true, false or an object such as { thresholdMs: 20, window: 300000 }, got ${JSON.stringify(value)}`)
  }
  const opts = value as Record<string, unknown>
  for (const key of Object.keys(opts)) {
    if (key !== 'thresholdMs' && key !== 'window') fail(`advisor.${key}`, 'is not an advisor option (known: thresholdMs, window)')
  }
  const thresholdMs = opts.thresholdMs ?? ADVISOR_DEFAULTS.thresholdMs
  if (typeof thresholdMs !== 'number' || !Number.isFinite(thresholdMs) || thresholdMs <= 0) {
    fail('advisor.thresholdMs', `must be a number of ms > 0, got ${JSON.stringify(opts.thresholdMs)}`)
  }
  const window = opts.window ?? ADVISOR_DEFAULTS.window
  if (typeof window !== 'number' || !Number.isInteger(window) || window < 1000) {
    fail('advisor.window', `must be an integer number of ms >= 1000, got ${JSON.stringify(opts.window)}`)
  }
  return { thresholdMs, window }
}

export class Advisor {
  readonly times: LoopTimes
  readonly thresholdMs: number
  readonly #log: LoggerLike
  #metric: ((row: LoopRow) => (seconds: number) => void) | undefined

  constructor (opts: ResolvedAdvisor, log: LoggerLike) {
    this.thresholdMs = opts.thresholdMs
    this.#log = log
    this.times = new LoopTimes(opts.window)
    this.times.onRecord = (row, ms) => {
      if (this.#metric !== undefined) (row.observe ??= this.#metric(row))(ms / 1000)
      if (ms > this.thresholdMs) this.#check(row)
    }
  }

  /** Metrics are on: each measurement from now on is also observed by `child(row)`. */
  observeWith (child: (row: LoopRow) => (seconds: number) => void): void { this.#metric = child }

  /** A request passed the threshold: say so, once an hour per route, if the route's p99 did too. */
  #check (row: LoopRow): void {
    const now = performance.now()
    if (now - row.warnedAt < WARN_EVERY_MS) return
    const [report] = loopReport([{ windowMs: this.times.windowMs, activeMs: this.times.activeMs(now), rows: [this.times.rowSnapshot(row, now)] }], this.thresholdMs)
    if (report === undefined || report.blockedMs.p99 <= this.thresholdMs || report.suggestion === undefined) return
    row.warnedAt = now
    this.#log.warn({ route: report.route, offloaded: report.offloaded, blockedMs: report.blockedMs, share: report.share, requests: report.requests, thresholdMs: this.thresholdMs },
      `fastify-mpm: ${report.suggestion}`)
  }
}
