// One process's view of itself: requests served, its thread slots as scoreboard letters (each
// pool's, and all of them together for Apache's totals), its queue and fault counters, and
// per-route handler times. Plain data, so it can cross IPC.

import { performance } from 'node:perf_hooks'
import type { TaskEvent, TaskResult } from '../core/offload-target.js'
import type { Isolation } from '../core/options.js'
import type { PoolStats, SlotState } from '../core/pool.js'
import { NO_CONNECTIONS, type ConnectionCounts } from './connections.js'
import type { LoopTimeSnapshot } from './loop-time.js'

/** Apache's scoreboard letters (mod_status.c) for the states a thread slot can be in: `S` is its "starting up". */
export const LETTERS: Record<SlotState, string> = { idle: '_', busy: 'W', starting: 'S', finishing: 'G', open: '.' }

export const LETTER_KEY: Array<[string, string]> = [
  ['_', 'idle thread, waiting for a task'],
  ['W', 'running a handler'],
  ['S', 'thread (re)starting'],
  ['G', 'finishing its task before the process or thread is replaced'],
  ['.', 'open slot, no thread started']
]

export interface RouteSnapshot {
  route: string
  /** the pool that runs it (`default` or a name from the `pools` option); absent when unknown */
  pool?: string
  /** handler runs measured (ok, error, timeout, crashed) */
  count: number
  totalMs: number
  maxMs: number
  meanMs: number
  p50Ms: number
  p99Ms: number
  /** every settled request by result, including ones that never ran (rejected, dropped, closing) */
  results: Partial<Record<TaskResult, number>>
  /** log-scale histogram (bucket index → count), so processes' percentiles can be merged exactly */
  buckets: Record<string, number>
}

export interface ProcessSnapshot {
  answered: true
  pid: number
  /** node:cluster worker id; absent outside a cluster */
  workerId?: number
  state: 'ready' | 'stopping' | 'closing'
  startedAt: number
  uptimeSec: number
  accesses: number
  bytes: number
  reqPerSec: number
  /** main event loop utilization (0..1) over the last second or so */
  eventLoopUtilization: number
  /** every pool's slots, one letter each, the default pool's first */
  scoreboard: string
  slots: Record<SlotState, number>
  /** every pool's stats added up (the default pool's alone when there is no other) */
  pool: PoolStats
  /** each pool on its own, the default one first (absent from a process of an older version) */
  pools?: PoolSnapshot[]
  /** open connections by state, as Apache's event MPM counts them */
  connections: ConnectionCounts
  /** bytes: the process's resident set and its main thread's V8 heap */
  memory: { rss: number, heapUsed: number }
  routes: RouteSnapshot[]
  /** the advisor's per-route event-loop time, when it is on */
  loopTime?: LoopTimeSnapshot
}

/** One pool of one process: its slots as letters, counted, and its stats. */
export interface PoolSnapshot {
  name: string
  /** 'thread': worker threads; 'process': child processes (prefork), shown apart on the page */
  isolation: Isolation
  scoreboard: string
  slots: Record<SlotState, number>
  stats: PoolStats
}

/** A process the primary knows of but that sent no snapshot (booting, or did not answer in time). */
export interface MissingProcess {
  answered: false
  pid: number
  workerId?: number
  state: 'booting' | 'ready' | 'stopping' | 'unknown'
  startedAt: number
  uptimeSec: number
  reason: string
}

export type ProcessEntry = ProcessSnapshot | MissingProcess

/** One pool as a process describes it. */
export interface PoolSource {
  name: string
  isolation: Isolation
  stats: () => PoolStats
  slots: () => SlotState[]
}

/** What a process needs from its pools to describe itself. */
export interface SnapshotSource {
  /** the default pool first */
  pools: () => PoolSource[]
  closing: () => boolean
  connections?: () => ConnectionCounts
  /** the offloaded routes and their pools, listed before their first request */
  routes?: () => Array<{ route: string, pool: string }>
}

// Buckets grow by 2^(1/16) (~4.4 %) from 1 µs: percentiles are within that of the true value.
const BASE_MS = 0.001
const PER_DOUBLING = 16
const RAN: ReadonlySet<TaskResult> = new Set<TaskResult>(['ok', 'error', 'timeout', 'crashed'])

export function bucketOf (ms: number): number {
  return ms <= BASE_MS ? 0 : Math.ceil(Math.log2(ms / BASE_MS) * PER_DOUBLING)
}

export function bucketUpper (index: number): number {
  return BASE_MS * 2 ** (index / PER_DOUBLING)
}

/** The value at quantile q (0..1) of a bucketed histogram, capped at the largest value seen. */
export function quantile (buckets: Record<string, number>, count: number, q: number, maxMs: number): number {
  if (count === 0) return 0
  const rank = Math.max(1, Math.ceil(q * count))
  const indexes = Object.keys(buckets).map(Number).sort((a, b) => a - b)
  let seen = 0
  for (const index of indexes) {
    seen += buckets[index]
    if (seen >= rank) return Math.min(bucketUpper(index), maxMs)
  }
  return maxMs
}

class RouteStats {
  pool: string | undefined
  count = 0
  totalMs = 0
  maxMs = 0
  readonly results: Partial<Record<TaskResult, number>> = {}
  readonly buckets: Record<string, number> = {}

  record (event: TaskEvent): void {
    if (event.pool !== undefined) this.pool = event.pool
    this.results[event.result] = (this.results[event.result] ?? 0) + 1
    if (!RAN.has(event.result)) return
    const ms = Math.max(0, event.durationMs)
    this.count++
    this.totalMs += ms
    if (ms > this.maxMs) this.maxMs = ms
    const index = bucketOf(ms)
    this.buckets[index] = (this.buckets[index] ?? 0) + 1
  }

  snapshot (route: string): RouteSnapshot {
    const snapshot = summarizeRoute(route, this.count, this.totalMs, this.maxMs, { ...this.results }, { ...this.buckets })
    return this.pool === undefined ? snapshot : { ...snapshot, pool: this.pool }
  }
}

export function summarizeRoute (route: string, count: number, totalMs: number, maxMs: number,
  results: RouteSnapshot['results'], buckets: Record<string, number>): RouteSnapshot {
  return {
    route,
    count,
    totalMs,
    maxMs,
    meanMs: count === 0 ? 0 : totalMs / count,
    p50Ms: quantile(buckets, count, 0.5, maxMs),
    p99Ms: quantile(buckets, count, 0.99, maxMs),
    results,
    buckets
  }
}

let lastElu = performance.eventLoopUtilization()
let lastEluAt = performance.now()
let recentElu = lastElu.utilization

/** The main thread's event loop utilization over the last second (or since start, at first). */
export function eventLoopUtilization (): number {
  const now = performance.now()
  if (now - lastEluAt >= 1000) {
    const current = performance.eventLoopUtilization()
    recentElu = performance.eventLoopUtilization(current, lastElu).utilization
    lastElu = current
    lastEluAt = now
  }
  return recentElu
}

export function countSlots (slots: SlotState[]): Record<SlotState, number> {
  const counts: Record<SlotState, number> = { idle: 0, busy: 0, starting: 0, finishing: 0, open: 0 }
  for (const slot of slots) counts[slot]++
  return counts
}

/** Pools' stats added up, field by field (a process's totals, or one pool's over the cluster). */
export function addPoolStats (parts: PoolStats[]): PoolStats {
  const total = {} as Record<string, number>
  for (const part of parts) {
    for (const [key, value] of Object.entries(part)) if (typeof value === 'number') total[key] = (total[key] ?? 0) + value
  }
  return total as unknown as PoolStats
}

export function pickPoolSnapshot (pool: PoolSource): PoolSnapshot {
  const slots = pool.slots()
  return { name: pool.name, isolation: pool.isolation, scoreboard: slots.map((slot) => LETTERS[slot]).join(''), slots: countSlots(slots), stats: pool.stats() }
}

/** Counts what this process serves and turns it, with the pool's state, into a snapshot. */
export class LocalStatus {
  readonly startedAt = Date.now()
  accesses = 0
  bytes = 0
  readonly #routes = new Map<string, RouteStats>()
  readonly #source: SnapshotSource

  constructor (source: SnapshotSource) {
    this.#source = source
  }

  /** A response finished: one more request served, with the body bytes it sent. */
  served (bytes: number): void {
    this.accesses++
    this.bytes += bytes
  }

  /** mpm.onTask observer. */
  readonly task = (event: TaskEvent): void => {
    let stats = this.#routes.get(event.route)
    if (stats === undefined) {
      stats = new RouteStats()
      this.#routes.set(event.route, stats)
    }
    stats.record(event)
  }

  snapshot (workerId?: number): ProcessSnapshot {
    for (const { route, pool } of this.#source.routes?.() ?? []) {
      let stats = this.#routes.get(route)
      if (stats === undefined) this.#routes.set(route, stats = new RouteStats())
      stats.pool ??= pool
    }
    const pools = this.#source.pools().map(pickPoolSnapshot)
    const slots: Record<SlotState, number> = { idle: 0, busy: 0, starting: 0, finishing: 0, open: 0 }
    for (const pool of pools) for (const key of Object.keys(slots) as SlotState[]) slots[key] += pool.slots[key]
    const uptimeSec = Math.max((Date.now() - this.startedAt) / 1000, 0.001)
    const snapshot: ProcessSnapshot = {
      answered: true,
      pid: process.pid,
      state: this.#source.closing() ? 'closing' : 'ready',
      startedAt: this.startedAt,
      uptimeSec,
      accesses: this.accesses,
      bytes: this.bytes,
      reqPerSec: this.accesses / uptimeSec,
      eventLoopUtilization: eventLoopUtilization(),
      scoreboard: pools.map((p) => p.scoreboard).join(''),
      slots,
      pool: pools.length === 1 ? pools[0].stats : addPoolStats(pools.map((p) => p.stats)),
      pools,
      connections: this.#source.connections?.() ?? { ...NO_CONNECTIONS },
      memory: { rss: process.memoryUsage.rss(), heapUsed: process.memoryUsage().heapUsed },
      routes: [...this.#routes].map(([route, stats]) => stats.snapshot(route))
    }
    if (workerId !== undefined) snapshot.workerId = workerId
    return snapshot
  }
}
