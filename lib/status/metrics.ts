// Prometheus metrics through prom-client, on its global registry so an app's own metrics are
// served (and summed across a cluster) alongside ours. Gauges read the pools when scraped, one
// series per pool (`pool` label: `default` or a name from the options, never from a client);
// task counters and the duration histogram are fed by mpm.onTask, by route (a route's pool is
// fixed, so `pool` there would only repeat it).

import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, register, type MetricObjectWithValues, type MetricValue } from 'prom-client'
import type { TaskEvent } from '../core/offload-target.js'
import type { PoolStats, SlotState } from '../core/pool.js'
import type { ConnectionCounts } from './connections.js'
import { countSlots, eventLoopUtilization, type PoolSource } from './scoreboard.js'

export interface MetricsSource {
  /** the process's pools, the default one first */
  pools: PoolSource[]
  connections?: () => ConnectionCounts
}

export type MetricsJSON = Array<MetricObjectWithValues<MetricValue<string>>>

export interface MetricsText { text: string, contentType: string }

const STATES: SlotState[] = ['busy', 'idle', 'starting', 'finishing', 'open']
const RESTARTS = { recycled: 'recycled', memory: 'recycledMemory', timeout: 'timedOut', crashed: 'crashed', exited: 'threadExits' } as const
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
// A task that never reached a thread has no handler time.
const RAN = new Set(['ok', 'error', 'timeout', 'crashed'])

const sources = new Set<MetricsSource>()
// Restart counts of pools already closed, by pool and reason, so the counter never goes down within a process.
const closedRestarts = new Map<string, Record<keyof typeof RESTARTS, number>>()

interface Instruments { tasks: Counter<'route' | 'result'>, duration: Histogram<'route'> }
let instruments: Instruments | undefined

/** Each pool name's stats, added up over the sources (one per app in this process, normally one). */
function statsByPool (): Map<string, PoolStats[]> {
  const byPool = new Map<string, PoolStats[]>()
  for (const source of sources) for (const pool of source.pools) byPool.set(pool.name, [...(byPool.get(pool.name) ?? []), pool.stats()])
  return byPool
}

function sumStats (parts: PoolStats[], pick: (s: PoolStats) => number): number {
  return parts.reduce((total, s) => total + pick(s), 0)
}

function create (): Instruments {
  const registers = [register]
  new Gauge({
    name: 'fastify_mpm_threads',
    help: 'Thread slots by state: busy (running a handler), idle, starting, finishing (before replacement), open (no thread)',
    labelNames: ['state', 'pool'],
    registers,
    collect () {
      this.reset()
      const byPool = new Map<string, SlotState[]>()
      for (const source of sources) for (const pool of source.pools) byPool.set(pool.name, [...(byPool.get(pool.name) ?? []), ...pool.slots()])
      for (const [pool, slots] of byPool) {
        const counts = countSlots(slots)
        for (const state of STATES) this.set({ state, pool }, counts[state])
      }
    }
  })
  new Gauge({
    name: 'fastify_mpm_queue_depth',
    help: 'Offloaded requests waiting for a free thread, by pool',
    labelNames: ['pool'],
    registers,
    collect () {
      this.reset()
      for (const [pool, parts] of statsByPool()) this.set({ pool }, sumStats(parts, (s) => s.queued))
    }
  })
  new Gauge({
    name: 'fastify_mpm_queue_max',
    help: 'Queue bound (maxQueue), by pool; past it requests get 503',
    labelNames: ['pool'],
    registers,
    collect () {
      this.reset()
      for (const [pool, parts] of statsByPool()) this.set({ pool }, sumStats(parts, (s) => s.maxQueue))
    }
  })
  new Counter({
    name: 'fastify_mpm_thread_restarts_total',
    help: 'Threads replaced, by pool and reason: recycled (maxTasksPerThread), memory (maxThreadMemory), timeout (terminated), crashed (died running a task), exited (exited by itself or died idle)',
    labelNames: ['reason', 'pool'],
    registers,
    collect () {
      this.reset()
      const byPool = statsByPool()
      for (const pool of new Set([...byPool.keys(), ...closedRestarts.keys()])) {
        const parts = byPool.get(pool) ?? []
        const closed = closedRestarts.get(pool)
        for (const [reason, key] of Object.entries(RESTARTS) as Array<[keyof typeof RESTARTS, keyof PoolStats]>) {
          this.inc({ reason, pool }, (closed?.[reason] ?? 0) + sumStats(parts, (s) => s[key]))
        }
      }
    }
  })
  new Gauge({
    name: 'fastify_mpm_connections',
    help: 'Open HTTP connections by state, as Apache\'s event MPM counts them: total, keepalive (no request in flight), writing (answer produced, bytes going out), closing',
    labelNames: ['state'],
    registers,
    collect () {
      const totals: Record<string, number> = { total: 0, keepalive: 0, writing: 0, closing: 0 }
      for (const source of sources) {
        const c = source.connections?.()
        if (c === undefined) continue
        totals.total += c.total
        totals.keepalive += c.keepAlive
        totals.writing += c.writing
        totals.closing += c.closing
      }
      for (const [state, n] of Object.entries(totals)) this.set({ state }, n)
    }
  })
  new Gauge({
    name: 'fastify_mpm_process_resident_memory_bytes',
    help: 'Resident set size of each process (what maxProcessMemory is compared with)',
    labelNames: ['pid'],
    registers,
    collect () {
      this.reset()
      this.set({ pid: String(process.pid) }, process.memoryUsage.rss())
    }
  })
  new Gauge({
    name: 'fastify_mpm_event_loop_utilization',
    help: 'Main thread event loop utilization (0..1) over the last second, per process',
    labelNames: ['pid'],
    registers,
    collect () {
      this.reset()
      this.set({ pid: String(process.pid) }, eventLoopUtilization())
    }
  })
  return {
    tasks: new Counter({
      name: 'fastify_mpm_tasks_total',
      help: 'Offloaded requests by route and result (ok, error, timeout, queue-timeout, rejected, crashed, dropped, closing)',
      labelNames: ['route', 'result'],
      registers
    }),
    duration: new Histogram({
      name: 'fastify_mpm_handler_duration_seconds',
      help: 'Time offloaded handlers ran in their thread, by route',
      labelNames: ['route'],
      buckets: DURATION_BUCKETS,
      registers
    })
  }
}

/** Starts counting one pool; returns the observer to hand to mpm.onTask and a function to stop. */
export function addMetricsSource (source: MetricsSource): { observe: (event: TaskEvent) => void, remove: () => void } {
  instruments ??= create()
  const { tasks, duration } = instruments
  sources.add(source)
  let removed = false
  return {
    observe (event) {
      tasks.inc({ route: event.route, result: event.result })
      if (RAN.has(event.result)) duration.observe({ route: event.route }, Math.max(event.durationMs, 0) / 1000)
    },
    remove () {
      if (removed) return
      removed = true
      for (const pool of source.pools) {
        const last = pool.stats()
        let closed = closedRestarts.get(pool.name)
        if (closed === undefined) closedRestarts.set(pool.name, closed = { recycled: 0, memory: 0, timeout: 0, crashed: 0, exited: 0 })
        for (const [reason, key] of Object.entries(RESTARTS) as Array<[keyof typeof RESTARTS, keyof PoolStats]>) closed[reason] += last[key]
      }
      sources.delete(source)
    }
  }
}

export async function localMetrics (): Promise<MetricsText> {
  return { text: await register.metrics(), contentType: register.contentType }
}

export async function localMetricsJSON (): Promise<MetricsJSON> {
  return await register.getMetricsAsJSON()
}

export interface PrimaryFacts {
  restarts: number
  recycles?: Record<string, number>
  byState: Record<string, number>
  unanswered: number
}

/** In the primary: every child's metrics summed with prom-client's aggregator, plus what only the primary knows. */
export async function aggregateMetrics (children: MetricsJSON[], facts: PrimaryFacts): Promise<MetricsText> {
  const own = new Registry()
  const registers = [own]
  new Counter({ name: 'fastify_mpm_process_restarts_total', help: 'Processes replaced after a crash, heartbeat kill or recycle', registers })
    .inc(facts.restarts)
  const recycles = new Counter({ name: 'fastify_mpm_process_recycles_total', help: 'Processes replaced on purpose, by reason: max-requests (maxRequestsPerProcess), max-memory (maxProcessMemory)', labelNames: ['reason'], registers })
  for (const [reason, n] of Object.entries(facts.recycles ?? {})) recycles.inc({ reason }, n)
  const processes = new Gauge({ name: 'fastify_mpm_processes', help: 'Processes by state, as the primary sees them', labelNames: ['state'], registers })
  for (const [state, n] of Object.entries(facts.byState)) processes.set({ state }, n)
  new Gauge({ name: 'fastify_mpm_processes_unanswered', help: 'Processes whose metrics are missing from this scrape (booting or no answer in time)', registers })
    .set(facts.unanswered)
  const merged = AggregatorRegistry.aggregate([...children, await own.getMetricsAsJSON()])
  return { text: await merged.metrics(), contentType: merged.contentType }
}

const LOOP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10]
let loopHistogram: Histogram<'route' | 'offloaded'> | undefined

/** The advisor's histogram: main-thread time per request, by declared route; one child per row, made once. */
export function loopTimeObserver (route: string, offloaded: boolean): (seconds: number) => void {
  loopHistogram ??= new Histogram({
    name: 'fastify_mpm_route_loop_seconds',
    help: 'Main-thread (event loop) time each request held, by route and whether the route is offloaded: the handler\'s synchronous part and the sending of its answer (see docs/operator-view.md)',
    labelNames: ['route', 'offloaded'],
    buckets: LOOP_BUCKETS,
    registers: [register]
  })
  const child = loopHistogram.labels({ route, offloaded: String(offloaded) })
  return (seconds) => child.observe(seconds)
}
