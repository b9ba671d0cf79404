// createMpm()'s options: the pool's knobs, named and defaulted as in the Fastify plugin, plus
// the logger a Fastify app would have brought and the slow log. The status page, metrics and
// readiness are middleware with their own options, mounted where the app wants them.

import { destination, pino } from 'pino'
import { checkKeys, CORE_KEYS, fail, integer, resolveCoreOptions, type CoreOptions, type ResolvedCoreOptions } from '../core/options.js'
import type { LoggerLike } from '../core/pool.js'
import { resolveNamedPools, type ResolvedNamedPool } from '../core/pool-options.js'
import { resolveAdvisor, type AdvisorOptions, type ResolvedAdvisor } from '../status/advisor.js'

export interface ExpressMpmOptions extends CoreOptions {
  /** pino-compatible; handler `req.log` lines land here with their reqId. Default: pino to stderr at info. */
  logger?: LoggerLike & { child?: (bindings: Record<string, unknown>) => LoggerLike }
  /** ms after which a finished offloaded task is logged as slow (PHP-FPM slowlog); 0 = off. Default 0. */
  slowTaskThreshold?: number
  /**
   * Which routes to offload: how long each route holds the event loop, on the status page
   * (`loopTime`), in metrics and as one warn line per route past `thresholdMs` at p99.
   * Default on: `{ thresholdMs: 20, window: 300000 }`; `false` = off.
   */
  advisor?: boolean | AdvisorOptions
}

export type ExpressLogger = LoggerLike & { child: (bindings: Record<string, unknown>) => ExpressLogger }

export interface ResolvedExpressOptions extends ResolvedCoreOptions {
  pools: ResolvedNamedPool[]
  logger: ExpressLogger
  slowTaskThreshold: number
  advisor: ResolvedAdvisor | null
}

const KNOWN_KEYS = new Set([...CORE_KEYS, 'logger', 'slowTaskThreshold', 'advisor'])
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const

export function resolveExpressOptions (opts: ExpressMpmOptions = {}): ResolvedExpressOptions {
  const checked = checkKeys(opts, KNOWN_KEYS) as ExpressMpmOptions
  const logger = checked.logger ?? pino({ level: 'info' }, destination(2))
  if (logger === null || typeof logger !== 'object' || LEVELS.some((level) => typeof logger[level] !== 'function') ||
    typeof logger.child !== 'function') {
    fail('logger', 'must be a pino-compatible logger (trace … fatal and child())')
  }
  return {
    ...resolveCoreOptions(checked),
    pools: resolveNamedPools(checked),
    logger: logger as ExpressLogger,
    slowTaskThreshold: integer('slowTaskThreshold', checked.slowTaskThreshold, 0),
    advisor: resolveAdvisor(checked.advisor)
  }
}
