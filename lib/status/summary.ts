// Turns the snapshots of one or many processes into what every format shows: server facts,
// totals (over every pool, as Apache's keys mean them, and per pool), the whole scoreboard, each
// process, and per-route times merged across processes.

import { readFileSync } from 'node:fs'
import type { TaskResult } from '../core/offload-target.js'
import type { Isolation } from '../core/options.js'
import type { PoolStats, SlotState } from '../core/pool.js'
import { addConnectionCounts, NO_CONNECTIONS, type ConnectionCounts } from './connections.js'
import { loopReport, type LoopTimeRow } from './loop-report.js'
import { addPoolStats, LETTERS, summarizeRoute, type MissingProcess, type PoolSnapshot, type ProcessEntry, type ProcessSnapshot, type RouteSnapshot } from './scoreboard.js'

export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version

export type RouteSummary = Omit<RouteSnapshot, 'buckets'>
export type ProcessSummary = (Omit<ProcessSnapshot, 'routes' | 'loopTime'> & { routes: RouteSummary[] }) | MissingProcess

export interface ServerStatus {
  server: {
    name: 'fastify-mpm'
    version: string
    node: string
    mode: 'single' | 'cluster'
    /** the primary's pid in a cluster, else this process's */
    pid: number
    /** the process that served this page */
    servedBy: number
    startedAt: number
    uptimeSec: number
    generatedAt: string
    /** processes replaced after a crash, heartbeat kill or recycle (cluster only) */
    processRestarts: number
    /** of those, processes recycled on purpose, by reason (max-requests, max-memory) */
    processRecycles: Record<string, number>
    /** set when part of the picture is missing, e.g. the primary did not answer */
    note?: string
  }
  totals: {
    processes: number
    answered: number
    accesses: number
    bytes: number
    reqPerSec: number
    bytesPerSec: number
    bytesPerReq: number
    slots: Record<SlotState, number>
    /** processes being replaced or stopped (Apache event MPM `Stopping`) */
    stopping: number
    connections: ConnectionCounts
    /** bytes, summed over the processes that answered */
    rss: number
  } & Pick<PoolStats, 'busy' | 'idle' | 'queued' | 'maxQueue' | 'completed' | 'failed' | 'rejected' | 'queueTimedOut' |
  'timedOut' | 'crashed' | 'dropped' | 'recycled' | 'recycledMemory'> & {
    /** each pool over every process that answered, the default one first */
    pools: Record<string, PoolTotals>
  }
  scoreboard: string
  processes: ProcessSummary[]
  routes: RouteSummary[]
  /** the advisor: main-thread time by route, worst first, over its window (absent when it is off) */
  loopTime?: LoopTimeRow[]
  /** the advisor's threshold (ms at p99) the suggestions were made against */
  loopTimeThresholdMs?: number
}

/** One pool's slots and stats, added up over the processes that answered. */
export interface PoolTotals extends PoolStats {
  isolation: Isolation
  slots: Record<SlotState, number>
  scoreboard: string
}

export interface SummaryInput {
  mode: 'single' | 'cluster'
  pid: number
  startedAt: number
  processRestarts: number
  processRecycles?: Record<string, number>
  note?: string
  processes: ProcessEntry[]
  /** the advisor's threshold, when it is on in the process serving the page */
  thresholdMs?: number
}

const GRACEFUL = new Set(['stopping', 'closing'])

export function summarize (input: SummaryInput): ServerStatus {
  const processes = input.processes.map(graceful).sort((a, b) => (a.workerId ?? 0) - (b.workerId ?? 0) || a.pid - b.pid)
  const answered = processes.filter((p): p is ProcessSnapshot => p.answered)
  const sum = (pick: (p: ProcessSnapshot) => number): number => answered.reduce((total, p) => total + pick(p), 0)
  const slots: Record<SlotState, number> = { idle: 0, busy: 0, starting: 0, finishing: 0, open: 0 }
  for (const p of answered) for (const key of Object.keys(slots) as SlotState[]) slots[key] += p.slots[key]
  const accesses = sum((p) => p.accesses)
  const bytes = sum((p) => p.bytes)
  const uptimeSec = Math.max((Date.now() - input.startedAt) / 1000, 0.001)
  const routes = mergeRoutes(answered).map(withoutBuckets)
  return {
    server: {
      name: 'fastify-mpm',
      version: VERSION,
      node: process.version,
      mode: input.mode,
      pid: input.pid,
      servedBy: process.pid,
      startedAt: input.startedAt,
      uptimeSec,
      generatedAt: new Date().toISOString(),
      processRestarts: input.processRestarts,
      processRecycles: input.processRecycles ?? {},
      ...(input.note === undefined ? {} : { note: input.note })
    },
    totals: {
      processes: processes.length,
      answered: answered.length,
      accesses,
      bytes,
      reqPerSec: sum((p) => p.reqPerSec),
      bytesPerSec: bytes / uptimeSec,
      bytesPerReq: accesses === 0 ? 0 : bytes / accesses,
      slots,
      stopping: processes.filter((p) => GRACEFUL.has(p.state)).length,
      connections: answered.reduce((total, p) => addConnectionCounts(total, p.connections), { ...NO_CONNECTIONS }),
      rss: sum((p) => p.memory.rss),
      busy: slots.busy + slots.finishing,
      idle: slots.idle,
      queued: sum((p) => p.pool.queued),
      maxQueue: sum((p) => p.pool.maxQueue),
      completed: sum((p) => p.pool.completed),
      failed: sum((p) => p.pool.failed),
      rejected: sum((p) => p.pool.rejected),
      queueTimedOut: sum((p) => p.pool.queueTimedOut ?? 0),
      timedOut: sum((p) => p.pool.timedOut),
      crashed: sum((p) => p.pool.crashed),
      dropped: sum((p) => p.pool.dropped),
      recycled: sum((p) => p.pool.recycled),
      recycledMemory: sum((p) => p.pool.recycledMemory ?? 0),
      pools: poolTotals(answered)
    },
    scoreboard: answered.map((p) => p.scoreboard).join(''),
    processes: processes.map((p) => p.answered ? withoutLoopTime({ ...p, routes: p.routes.map(withoutBuckets) }) : p),
    routes,
    ...(input.thresholdMs === undefined
      ? {}
      : {
          loopTime: loopReport(answered.map((p) => p.loopTime), input.thresholdMs, new Map(routes.map((r) => [r.route, r.p50Ms]))),
          loopTimeThresholdMs: input.thresholdMs
        })
  }
}

/** A process of an older version reports no `pools`: its one pool is the default one. */
function poolsOf (p: ProcessSnapshot): PoolSnapshot[] {
  return p.pools ?? [{ name: 'default', isolation: 'thread', scoreboard: p.scoreboard, slots: p.slots, stats: p.pool }]
}

function poolTotals (processes: ProcessSnapshot[]): Record<string, PoolTotals> {
  const byName = new Map<string, PoolSnapshot[]>()
  for (const p of processes) for (const pool of poolsOf(p)) byName.set(pool.name, [...(byName.get(pool.name) ?? []), pool])
  const totals: Record<string, PoolTotals> = {}
  for (const [name, parts] of byName) {
    const slots: Record<SlotState, number> = { idle: 0, busy: 0, starting: 0, finishing: 0, open: 0 }
    for (const part of parts) for (const key of Object.keys(slots) as SlotState[]) slots[key] += part.slots[key]
    totals[name] = { ...addPoolStats(parts.map((part) => part.stats)), isolation: parts[0].isolation, slots, scoreboard: parts.map((part) => part.scoreboard).join('') }
  }
  return totals
}

function withoutLoopTime ({ loopTime, ...p }: Omit<ProcessSnapshot, 'routes'> & { routes: RouteSummary[] }): ProcessSummary {
  void loopTime
  return p
}

/** A process being replaced shows its busy threads as `G`, as Apache does during a graceful restart. */
function graceful (entry: ProcessEntry): ProcessEntry {
  if (!entry.answered || !GRACEFUL.has(entry.state) || entry.slots.busy === 0) return entry
  const finishing = <T extends { scoreboard: string, slots: Record<SlotState, number> }>(part: T): T =>
    ({ ...part, scoreboard: part.scoreboard.replaceAll(LETTERS.busy, LETTERS.finishing), slots: { ...part.slots, busy: 0, finishing: part.slots.finishing + part.slots.busy } })
  const graceful = finishing(entry)
  if (entry.pools !== undefined) graceful.pools = entry.pools.map(finishing)
  return graceful
}

function mergeRoutes (processes: ProcessSnapshot[]): RouteSnapshot[] {
  const byRoute = new Map<string, RouteSnapshot[]>()
  for (const p of processes) {
    for (const route of p.routes) byRoute.set(route.route, [...(byRoute.get(route.route) ?? []), route])
  }
  return [...byRoute].sort(([a], [b]) => a.localeCompare(b)).map(([route, parts]) => {
    const results: Partial<Record<TaskResult, number>> = {}
    const buckets: Record<string, number> = {}
    for (const part of parts) {
      for (const [result, n] of Object.entries(part.results) as Array<[TaskResult, number]>) results[result] = (results[result] ?? 0) + n
      for (const [index, n] of Object.entries(part.buckets)) buckets[index] = (buckets[index] ?? 0) + n
    }
    const merged = summarizeRoute(route,
      parts.reduce((n, p) => n + p.count, 0),
      parts.reduce((n, p) => n + p.totalMs, 0),
      parts.reduce((n, p) => Math.max(n, p.maxMs), 0),
      results, buckets)
    const pool = parts.find((part) => part.pool !== undefined)?.pool
    return pool === undefined ? merged : { ...merged, pool }
  })
}

function withoutBuckets ({ buckets, ...route }: RouteSnapshot): RouteSummary {
  void buckets
  return route
}
