// Named pools' options (`pools: { reports: { threads: 2, maxQueue: 20 } }`): checked early and
// by name (`pools.reports.threads`), like the top-level options, which stay the default pool's.
//
// What a named pool leaves out: its size is its own — `threads` 1, `maxQueue` 512, `isolation`
// 'thread', `readiness` false — never the top level's nor the CLI's `--threads`, so each pool
// adds a known number of slots to the machine's count (oversubscription.ts); its time limits
// and recycling — taskTimeout, queueTimeout, idleTimeout, maxTasksPerThread, maxThreadMemory,
// resourceLimits — are the top level's, the app's one policy unless a pool says otherwise.

import { fail, resolveCoreOptions, type CoreOptions, type ResolvedCoreOptions } from './options.js'

/** One named pool's knobs: the default pool's, minus what is process-wide (retryAfter, closeTimeout). */
export interface NamedPoolOptions extends Pick<CoreOptions, 'threads' | 'maxQueue' | 'idleTimeout' | 'taskTimeout' | 'queueTimeout' |
'maxTasksPerThread' | 'maxThreadMemory' | 'resourceLimits' | 'isolation' | 'streamBuffer'> {
  /**
   * This pool's queue counts for the readiness endpoint (503 once it is saturated), as the
   * default pool's always does. Default false: a saturated side pool answers its own 503s
   * without taking the process out of the load balancer.
   */
  readiness?: boolean
}

/** A pool's resolved knobs, as the ThreadPool takes them. */
export type ResolvedPoolKnobs = Omit<ResolvedCoreOptions, 'retryAfter' | 'closeTimeout'>

export interface ResolvedNamedPool extends ResolvedPoolKnobs {
  name: string
  readiness: boolean
}

/** The default pool's name: the top-level options, and where a route without `pool` runs. */
export const DEFAULT_POOL = 'default'

/** Pool names become metric labels and status keys: short, plain, from the config only. */
export const POOL_NAME = /^[a-z][a-z0-9_-]{0,31}$/i

const POOL_KEYS: ReadonlySet<string> = new Set(['threads', 'maxQueue', 'idleTimeout', 'taskTimeout', 'queueTimeout',
  'maxTasksPerThread', 'maxThreadMemory', 'resourceLimits', 'isolation', 'readiness', 'streamBuffer'])
/** What a named pool takes from the top level when it does not say. */
const INHERITED = ['idleTimeout', 'taskTimeout', 'queueTimeout', 'maxTasksPerThread', 'maxThreadMemory', 'resourceLimits', 'streamBuffer'] as const

/** Checks `opts.pools` (the top-level options are checked first); [] when there is none. */
export function resolveNamedPools (opts: CoreOptions): ResolvedNamedPool[] {
  const pools = opts.pools
  if (pools === undefined) return []
  if (pools === null || typeof pools !== 'object' || Array.isArray(pools)) {
    fail('pools', `must be an object of named pools such as { reports: { threads: 2 } }, got ${JSON.stringify(pools)}`)
  }
  return Object.entries(pools).map(([name, value]) => {
    if (name === DEFAULT_POOL) fail(`pools.${name}`, 'is the top-level options\' pool: set its knobs there, not under pools')
    if (!POOL_NAME.test(name)) fail(`pools.${name}`, `is not a valid pool name (a letter, then up to 31 letters, digits, "-" or "_")`)
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      fail(`pools.${name}`, `must be an object such as { threads: 2, maxQueue: 20 }, got ${JSON.stringify(value)}`)
    }
    const own = checkPoolKeys(name, value)
    const readiness = own.readiness ?? false
    if (typeof readiness !== 'boolean') fail(`pools.${name}.readiness`, `must be a boolean, got ${JSON.stringify(readiness)}`)
    const merged: CoreOptions = { threads: 1 }
    for (const key of INHERITED) if (opts[key] !== undefined) (merged as Record<string, unknown>)[key] = opts[key]
    for (const [key, v] of Object.entries(own)) if (v !== undefined && key !== 'readiness') (merged as Record<string, unknown>)[key] = v
    const { retryAfter, closeTimeout, ...knobs } = resolveCoreOptions(merged, `pools.${name}.`)
    void retryAfter
    void closeTimeout
    return { name, readiness, ...knobs }
  })
}

function checkPoolKeys (name: string, value: object): NamedPoolOptions {
  for (const key of Object.keys(value)) {
    if (!POOL_KEYS.has(key)) fail(`pools.${name}.${key}`, `is not a pool option (known: ${[...POOL_KEYS].join(', ')})`)
  }
  return value as NamedPoolOptions
}
