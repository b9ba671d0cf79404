// What an offloaded route names (a module URL, an export, an optional timeout) and what each of
// its requests reports once it settles. Shared by every adapter: `offload()` in Fastify and
// `mpm.offload()` in Express check their arguments here, so both fail alike, early.

import { isAbsolute } from 'node:path'
import { pathToFileURL } from 'node:url'
import { FST_MPM_INVALID_HANDLER } from './errors.js'
import { POOL_NAME } from './pool-options.js'

export interface OffloadOptions {
  /** The module's export to run. Default: `default`. */
  export?: string
  /** ms this route's handler may run, overriding `taskTimeout` (0 = no limit). */
  timeout?: number
  /** The named pool (the plugin's `pools` option) whose threads run this route. Default: the default pool. */
  pool?: string
  /**
   * `'stream'`: the handler gets the raw request body as a Node Readable in `req.body`, fed from
   * the socket with backpressure, never parsed nor buffered whole. Default: the parsed body.
   */
  body?: 'parsed' | 'stream'
}

export interface OffloadTarget {
  href: string
  exportName: string
  timeout: number | undefined
  /** The handler reads the raw request body as a stream. */
  streamBody?: true
  /** The named pool from `opts.pool`; undefined: the default pool. */
  poolName?: string
}

export type TaskResult = 'ok' | 'error' | 'timeout' | 'queue-timeout' | 'rejected' | 'crashed' | 'dropped' | 'closing'

/** One offloaded request, reported to observers (status page, metrics, slow log) once it settles. */
export interface TaskEvent {
  route: string
  module: string
  export: string
  reqId: string
  result: TaskResult
  /** ms the handler ran in its thread; for timeouts and crashes, ms from dispatch until it failed. */
  durationMs: number
  /** The pool that ran (or refused) it: `default` or a name from the `pools` option. */
  pool?: string
}
export type TaskObserver = (event: TaskEvent) => void

export function toModuleHref (moduleUrl: URL | string, what = 'module'): string {
  if (moduleUrl instanceof URL) return moduleUrl.href
  if (typeof moduleUrl !== 'string' || moduleUrl === '') {
    throw new FST_MPM_INVALID_HANDLER(`${what} must be a URL or an absolute path, got ${JSON.stringify(moduleUrl)}`)
  }
  if (isAbsolute(moduleUrl)) return pathToFileURL(moduleUrl).href
  if (/^[a-z][a-z0-9+.-]*:/i.test(moduleUrl)) return new URL(moduleUrl).href
  throw new FST_MPM_INVALID_HANDLER(`${what} "${moduleUrl}" is relative: pass new URL('${moduleUrl}', import.meta.url)`)
}

export function offloadTarget (moduleUrl: URL | string, opts: OffloadOptions = {}): OffloadTarget {
  const href = toModuleHref(moduleUrl)
  const exportName = opts.export ?? 'default'
  if (typeof exportName !== 'string' || exportName === '') throw new FST_MPM_INVALID_HANDLER('opts.export must be a non-empty string')
  if (opts.timeout !== undefined && (!Number.isInteger(opts.timeout) || opts.timeout < 0)) {
    throw new FST_MPM_INVALID_HANDLER(`opts.timeout must be an integer >= 0 (ms), got ${JSON.stringify(opts.timeout)}`)
  }
  if (opts.body !== undefined && opts.body !== 'parsed' && opts.body !== 'stream') {
    throw new FST_MPM_INVALID_HANDLER(`opts.body must be 'parsed' or 'stream', got ${JSON.stringify(opts.body)}`)
  }
  const poolName = opts.pool
  if (poolName !== undefined && (typeof poolName !== 'string' || !POOL_NAME.test(poolName))) {
    throw new FST_MPM_INVALID_HANDLER(`opts.pool must be a pool name from the plugin's \`pools\` option, got ${JSON.stringify(poolName)}`)
  }
  const target: OffloadTarget = { href, exportName, timeout: opts.timeout }
  if (opts.body === 'stream') target.streamBody = true
  if (poolName !== undefined) target.poolName = poolName
  return target
}
