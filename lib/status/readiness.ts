// The readiness endpoint for load balancers and Kubernetes: 200 while this process takes work,
// 503 once it drains (the cluster child marks it the moment it is told to stop, before it closes
// its listener) or while its default pool is saturated, or a named pool marked `readiness: true`:
// a side pool that fills answers its own 503s, and taking the process out of the load balancer
// for it would only move the fast routes' traffic elsewhere. Local and allocation-light, so a probe every
// second costs nothing: no IPC to the primary, no status snapshot.

import { FST_MPM_INVALID_OPTION } from '../core/errors.js'
import type { PoolEntry } from '../core/pools.js'

export interface ReadinessOptions {
  /** Default: `/ready`. */
  path?: string
  /**
   * Not ready once this many of `maxQueue` are waiting for a thread (0 < f ≤ 1). With
   * `maxQueue: 0`, once every thread is busy. Default 0.5.
   */
  maxQueueFraction?: number
}

export interface ResolvedReadiness {
  path: string
  maxQueueFraction: number
}

const KEYS = new Set(['path', 'maxQueueFraction'])
export const DEFAULT_READINESS: ResolvedReadiness = Object.freeze({ path: '/ready', maxQueueFraction: 0.5 })

function fail (name: string, problem: string): never {
  throw new FST_MPM_INVALID_OPTION(name, problem)
}

export function resolveReadiness (value: unknown): ResolvedReadiness | null {
  if (value === undefined || value === false) return null
  if (value === true) return { ...DEFAULT_READINESS }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail('readiness', `must be true or an object such as { path: '/ready', maxQueueFraction: 0.5 }, got ${JSON.stringify(value)}`)
  }
  const opts = value as Record<string, unknown>
  for (const key of Object.keys(opts)) {
    if (!KEYS.has(key)) fail(`readiness.${key}`, `is not a readiness option (known: ${[...KEYS].join(', ')})`)
  }
  const path = opts.path ?? DEFAULT_READINESS.path
  if (typeof path !== 'string' || !path.startsWith('/') || /[?#\s]/.test(path)) {
    fail('readiness.path', `must be a URL path starting with "/", got ${JSON.stringify(path)}`)
  }
  const fraction = opts.maxQueueFraction ?? DEFAULT_READINESS.maxQueueFraction
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction <= 1)) {
    fail('readiness.maxQueueFraction', `must be a number above 0 and at most 1, got ${JSON.stringify(fraction)}`)
  }
  return { path, maxQueueFraction: fraction }
}

// -- draining: process-wide, set by whoever owns the process's lifecycle (the cluster child) ----

let drainingReason: string | undefined

/** From now on every readiness endpoint in this process answers 503 (requests are still served). */
export function markDraining (reason: string): void { drainingReason ??= reason }

/** Why this process is draining, if it is. */
export function draining (): string | undefined { return drainingReason }

// -- the answer ---------------------------------------------------------------------------------

/** Why the process should get no new work now, or undefined when it is ready; `pools`: the default pool first. */
export function notReady (pools: readonly PoolEntry[], opts: ResolvedReadiness): string | undefined {
  if (drainingReason !== undefined) return `draining (${drainingReason})`
  if (pools[0].pool.closing) return 'closing'
  for (const { name, pool, readiness } of pools) {
    if (!readiness) continue
    const which = pools.length === 1 ? '' : ` (pool ${name})`
    const { queued, maxQueue, busy, maxThreads } = pool.stats()
    if (maxQueue > 0) {
      if (queued >= opts.maxQueueFraction * maxQueue) return `saturated${which}: ${queued} of ${maxQueue} queue places taken`
    } else if (maxThreads > 0 && busy >= maxThreads) {
      return `saturated${which}: all ${maxThreads} threads busy`
    }
  }
  return undefined
}
