// What the advisor says, from one or many processes' loop-time snapshots: each route's blocked
// time (p50, p99, max, total) and share of the loop's busy time, worst first, with a plain
// suggestion. The cluster primary's page merges histograms here, never percentiles.

import type { LoopRowSnapshot, LoopTimeSnapshot } from './loop-time.js'
import { bucketUpper } from './scoreboard.js'

export interface LoopTimeRow {
  route: string
  offloaded: boolean
  requests: number
  blockedMs: { p50: number, p99: number, max: number, total: number }
  /** of the main threads' busy time over the window (0..1), summed over the processes that answered */
  share: number
  /** set when the route deserves an operator's attention */
  suggestion?: string
}

/** The `threadMs` of an offloaded route: its handler's p50 in the thread, to tell when offloading costs more than it saves. */
export type ThreadTimes = ReadonlyMap<string, number>

export function loopReport (snapshots: Array<LoopTimeSnapshot | undefined>, thresholdMs: number, threadP50: ThreadTimes = new Map()): LoopTimeRow[] {
  const merged = new Map<string, LoopRowSnapshot>()
  let activeMs = 0
  for (const snap of snapshots) {
    if (snap === undefined) continue
    activeMs += snap.activeMs
    for (const row of snap.rows) {
      const key = `${row.offloaded ? 1 : 0}${row.route}`
      const into = merged.get(key)
      if (into === undefined) {
        merged.set(key, { ...row, buckets: { ...row.buckets } })
        continue
      }
      into.count += row.count
      into.totalMs += row.totalMs
      into.maxMs = Math.max(into.maxMs, row.maxMs)
      for (const [index, n] of Object.entries(row.buckets)) into.buckets[index] = (into.buckets[index] ?? 0) + n
    }
  }
  const rows = [...merged.values()].map((row): LoopTimeRow => {
    const blockedMs = {
      p50: round(quantile(row.buckets, row.count, 0.5, row.maxMs)),
      p99: round(quantile(row.buckets, row.count, 0.99, row.maxMs)),
      max: round(row.maxMs),
      total: round(row.totalMs)
    }
    const share = activeMs > 0 ? Math.min(1, row.totalMs / activeMs) : 0
    const out: LoopTimeRow = { route: row.route, offloaded: row.offloaded, requests: row.count, blockedMs, share: Math.round(share * 1000) / 1000 }
    const suggestion = suggest(out, thresholdMs, threadP50.get(row.route), over(row.buckets, thresholdMs) >= pattern(row.count))
    if (suggestion !== undefined) out.suggestion = suggestion
    return out
  })
  // Worst first: what blocks the loop most in all, then the longest single blocks.
  return rows.sort((a, b) => b.blockedMs.total - a.blockedMs.total || b.blockedMs.p99 - a.blockedMs.p99 || a.route.localeCompare(b.route))
}

/** `GET /report blocks the event loop 180 ms at p99 (23 % of loop time): offload it`, or nothing. */
export function suggest (row: Pick<LoopTimeRow, 'route' | 'offloaded' | 'blockedMs' | 'share'>, thresholdMs: number, threadP50?: number, enough = true): string | undefined {
  const { route, blockedMs } = row
  if (blockedMs.p99 > thresholdMs && enough) {
    const what = `${route} blocks the event loop ${ms(blockedMs.p99)} at p99 (${percent(row.share)} of loop time)`
    return row.offloaded
      ? `${what} even though it is offloaded: look at what runs on the main thread (its hooks, the size of its answer)`
      : `${what}: offload it`
  }
  // Offloading a route costs main-thread time (copy, dispatch, answer); past the handler's own
  // time, the thread saves nothing.
  if (row.offloaded && threadP50 !== undefined && threadP50 > 0 && blockedMs.p50 >= threadP50) {
    return `${route} costs the event loop ${ms(blockedMs.p50)} at p50 to offload, more than its handler takes in the thread (${ms(threadP50)}): run it inline`
  }
  return undefined
}

/**
 * How many requests over the threshold make a pattern: of a few requests the p99 is the slowest
 * one, and one or two slow ones are not a pattern (a route's first runs compile it; a busy host
 * deschedules the process mid-request). So: 10 % of the requests, or 10, whichever is fewer, and
 * at least 2.
 */
function pattern (count: number): number {
  return Math.max(2, Math.ceil(Math.min(count * 0.1, 10)))
}

/** Requests in buckets wholly above the threshold. */
function over (buckets: Record<string, number>, thresholdMs: number): number {
  let n = 0
  for (const [index, count] of Object.entries(buckets)) if (Number(index) > 0 && bucketUpper(Number(index) - 1) >= thresholdMs) n += count
  return n
}

function ms (value: number): string {
  return value >= 10 ? `${Math.round(value)} ms` : `${value.toFixed(value >= 1 ? 1 : 2)} ms`
}

export function percent (share: number): string {
  const p = share * 100
  return `${p >= 10 || p === 0 ? Math.round(p) : p.toFixed(1)} %`
}

/**
 * The value at quantile q of a bucketed histogram: the bucket's geometric middle (within ~2.2 %
 * either way, where the bucket's upper edge is up to 4.4 % high), capped at the largest value seen.
 */
function quantile (buckets: Record<string, number>, count: number, q: number, maxMs: number): number {
  if (count === 0) return 0
  const rank = Math.max(1, Math.ceil(q * count))
  const indexes = Object.keys(buckets).map(Number).sort((a, b) => a - b)
  let seen = 0
  for (const index of indexes) {
    seen += buckets[index]
    if (seen >= rank) return Math.min(index === 0 ? bucketUpper(0) : Math.sqrt(bucketUpper(index - 1) * bucketUpper(index)), maxMs)
  }
  return maxMs
}

function round (value: number): number { return Math.round(value * 1000) / 1000 }
