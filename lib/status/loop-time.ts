// The advisor's figures for one process: how long each route's requests held the main thread
// (the event loop), over a sliding window, plus the loop's own busy time over the same window so
// each route's share of it can be told. The adapters' seams (Fastify's diagnostics channel,
// Express's route dispatch) call record(); this module knows nothing of either framework.
//
// Memory is bounded by construction: a row exists only for a route the app declared (the seams
// key by route pattern, never by URL), and each row is a ring of SLOTS fixed-size histograms,
// allocated on first use. Histograms (not percentiles) are what crosses IPC, so the cluster
// primary merges them exactly, as it does the offloaded routes' times.

import { performance } from 'node:perf_hooks'
import { bucketOf } from './scoreboard.js'

/** The window moves in steps of a fifth of itself: a figure covers between 4/5 of it and all of it. */
export const SLOTS = 5
// bucketOf()'s scale (1 µs, 16 per doubling): index 447 is ~250 s, past any handler's timeout.
const BUCKETS = 448

export interface LoopRowSnapshot {
  route: string
  offloaded: boolean
  count: number
  totalMs: number
  maxMs: number
  /** bucket index (scoreboard's log scale) → requests */
  buckets: Record<string, number>
}

export interface LoopTimeSnapshot {
  windowMs: number
  /** main-thread busy time (event loop utilization's `active`) over the same window */
  activeMs: number
  rows: LoopRowSnapshot[]
}

class Slot {
  id = -1
  count = 0
  totalMs = 0
  maxMs = 0
  buckets: Uint32Array | undefined

  reset (id: number): void {
    this.id = id
    this.count = 0
    this.totalMs = 0
    this.maxMs = 0
    this.buckets?.fill(0)
  }
}

/** One declared route's figures; the seams hold on to it so a request costs no lookup. */
export class LoopRow {
  readonly route: string
  offloaded: boolean
  readonly slots: Slot[] = Array.from({ length: SLOTS }, () => new Slot())
  /** last time a warn line was written for this route (ms, performance clock) */
  warnedAt = -Infinity
  /** the metrics histogram's child for this row, once metrics are on */
  observe: ((seconds: number) => void) | undefined

  constructor (route: string, offloaded: boolean) {
    this.route = route
    this.offloaded = offloaded
  }
}

export type RecordHook = (row: LoopRow, ms: number) => void

export class LoopTimes {
  readonly windowMs: number
  readonly #slotMs: number
  readonly #rows = new Map<string, LoopRow>()
  // The loop's `active` time when each slot of the ring opened, and which slot that was.
  readonly #activeAt = new Float64Array(SLOTS)
  readonly #slotIds = new Float64Array(SLOTS).fill(-1)
  /** called after each record with the row and ms (the warn check, metrics) */
  onRecord: RecordHook | undefined

  constructor (windowMs: number) {
    this.windowMs = windowMs
    this.#slotMs = Math.max(1, windowMs / SLOTS)
  }

  /** The row for a declared route, made once. `offloaded` may be learnt later (Express names routes late). */
  row (route: string, offloaded: boolean): LoopRow {
    let row = this.#rows.get(route)
    if (row === undefined) {
      row = new LoopRow(route, offloaded)
      this.#rows.set(route, row)
    } else if (offloaded) {
      row.offloaded = true
    }
    return row
  }

  /** `ms` of main-thread time spent on one request of `row`'s route, ending `now` (performance clock). */
  record (row: LoopRow, ms: number, now: number): void {
    const id = Math.floor(now / this.#slotMs)
    const slot = row.slots[id % SLOTS]
    if (slot.id !== id) {
      slot.reset(id)
      this.#open(id, ms)
    }
    slot.count++
    slot.totalMs += ms
    if (ms > slot.maxMs) slot.maxMs = ms
    const buckets = slot.buckets ??= new Uint32Array(BUCKETS)
    buckets[Math.min(bucketOf(ms), BUCKETS - 1)]++
    this.onRecord?.(row, ms)
  }

  /** The window's figures for one row (merged over its live slots). */
  rowSnapshot (row: LoopRow, now = performance.now()): LoopRowSnapshot {
    const current = Math.floor(now / this.#slotMs)
    const out: LoopRowSnapshot = { route: row.route, offloaded: row.offloaded, count: 0, totalMs: 0, maxMs: 0, buckets: {} }
    for (const slot of row.slots) {
      if (slot.id <= current - SLOTS || slot.id > current || slot.buckets === undefined) continue
      out.count += slot.count
      out.totalMs += slot.totalMs
      if (slot.maxMs > out.maxMs) out.maxMs = slot.maxMs
      const buckets = slot.buckets
      for (let i = 0; i < BUCKETS; i++) if (buckets[i] !== 0) out.buckets[i] = (out.buckets[i] ?? 0) + buckets[i]
    }
    return out
  }

  /** The main thread's busy time over the window (what each route's share is of). */
  activeMs (now = performance.now()): number {
    const current = Math.floor(now / this.#slotMs)
    this.#open(current, 0)
    let since = Infinity
    for (let i = 0; i < SLOTS; i++) {
      const id = this.#slotIds[i]
      if (id > current - SLOTS && id <= current && this.#activeAt[i] < since) since = this.#activeAt[i]
    }
    return Math.max(0, performance.eventLoopUtilization().active - since)
  }

  snapshot (now = performance.now()): LoopTimeSnapshot {
    const rows: LoopRowSnapshot[] = []
    for (const row of this.#rows.values()) {
      const snap = this.rowSnapshot(row, now)
      if (snap.count > 0) rows.push(snap)
    }
    return { windowMs: this.windowMs, activeMs: this.activeMs(now), rows }
  }

  /** Notes the loop's busy time as slot `id` opens; a request that opened it counts inside it. */
  #open (id: number, ms: number): void {
    const i = id % SLOTS
    if (this.#slotIds[i] === id) return
    this.#slotIds[i] = id
    this.#activeAt[i] = performance.eventLoopUtilization().active - ms
  }
}
