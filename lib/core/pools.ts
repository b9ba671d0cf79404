// The process's pools: the default one (the top-level options) and the named ones (`pools`), each
// its own ThreadPool with its own threads, queue, limits and recycling, so a slow route that fills
// its pool cannot take the threads or the queue places of a route in another (a bulkhead). This
// module owns finding a pool by name (an unknown name fails, naming who asked and the pools there
// are), the slots they add up to, and stopping, draining and closing them together.

import { FST_MPM_UNKNOWN_POOL } from './errors.js'
import type { Isolation } from './options.js'
import { DEFAULT_POOL, type ResolvedNamedPool, type ResolvedPoolKnobs } from './pool-options.js'
import { ThreadPool, type LoggerLike, type PoolStats } from './pool.js'

export interface PoolEntry {
  name: string
  pool: ThreadPool
  isolation: Isolation
  /** Its queue counts for the readiness endpoint (always so for the default pool). */
  readiness: boolean
}

export class Pools {
  readonly default: PoolEntry
  /** Every pool, the default one first, then the named ones in the order the options list them. */
  readonly list: readonly PoolEntry[]
  readonly #byName: ReadonlyMap<string, PoolEntry>

  constructor (top: ResolvedPoolKnobs, named: ResolvedNamedPool[], log: LoggerLike, reqIdLabel?: string) {
    const make = (knobs: ResolvedPoolKnobs): ThreadPool => new ThreadPool({ ...knobs, log, reqIdLabel })
    this.default = { name: DEFAULT_POOL, pool: make(top), isolation: top.isolation, readiness: true }
    this.list = [this.default, ...named.map(({ name, readiness, ...knobs }) => ({ name, pool: make(knobs), isolation: knobs.isolation, readiness }))]
    this.#byName = new Map(this.list.map((entry) => [entry.name, entry]))
  }

  /** The pool called `name` (undefined: the default one); `who` names the route or call in the error. */
  get (name: string | undefined, who: string): PoolEntry {
    const entry = this.#byName.get(name ?? DEFAULT_POOL)
    if (entry === undefined) throw new FST_MPM_UNKNOWN_POOL(who, String(name), this.names().join(', '))
    return entry
  }

  names (): string[] { return this.list.map((entry) => entry.name) }

  /** Threads and process slots of every pool at most: what this process adds to the machine's count. */
  maxSlots (): number { return this.list.reduce((n, { pool }) => n + pool.options.maxThreads, 0) }

  stats (): Record<string, PoolStats> {
    return Object.fromEntries(this.list.map(({ name, pool }) => [name, pool.stats()]))
  }

  stopAccepting (): void { for (const { pool } of this.list) pool.stopAccepting() }

  /** Waits for every pool's running and queued tasks, within one budget; true if all finished. */
  async drain (timeoutMs: number): Promise<boolean> {
    const done = await Promise.all(this.list.map(async ({ pool }) => await pool.drain(timeoutMs)))
    return done.every(Boolean)
  }

  async close (): Promise<void> {
    await Promise.all(this.list.map(async ({ pool }) => { await pool.close() }))
  }
}
