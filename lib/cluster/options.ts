// Cluster options: validation and defaults. Bad input fails cluster() before anything is forked.

import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { isAbsolute } from 'node:path'
import { pino } from 'pino'
import { FST_MPM_INVALID_OPTION } from '../core/errors.js'
import { parseThreads, THREADS_ENV, type ThreadsOption } from '../core/options.js'

/** pino-like; lifecycle lines are one JSON object each. */
export interface ClusterLogger {
  info: (obj: object, msg?: string) => void
  warn: (obj: object, msg?: string) => void
  error: (obj: object, msg?: string) => void
}

export interface ClusterOptions {
  /** The app module: its default export builds and returns a Fastify instance (not listening). */
  app: URL | string
  /** Processes (Apache StartServers, Puma/Gunicorn `workers`). Default 'auto' = available cores. */
  processes?: number | 'auto'
  /**
   * Default thread bounds of the plugin in every process (`4`, `"1:4"`, `{ min, max }`); options
   * given to the plugin in the app win. Default: 1 to cores / processes, so processes × threads ≈ cores.
   */
  threads?: ThreadsOption | string
  listen?: { port?: number, host?: string }
  /** ms a process has to finish in-flight requests when stopped or replaced, then it is killed. Default 30 000. */
  gracefulTimeout?: number
  /**
   * ms between SIGTERM (or stop()) and closing the listeners, during which readiness endpoints
   * already answer 503 and requests are still served, so load balancers and Kubernetes stop
   * sending first (what a `preStop: sleep` does). Not applied to reload, recycle or scale. Default 0.
   */
  shutdownDelay?: number
  /** Replace a process after it served this many requests, 0 = never (Gunicorn max_requests). Default 0. */
  maxRequestsPerProcess?: number
  /** Add a random 0..N to maxRequestsPerProcess per process, so they do not recycle together. Default 0. */
  maxRequestsJitter?: number
  /**
   * Replace a process whose resident set passes this many MB, 0 = never (pm2 max_memory_restart,
   * Passenger max_memory): the replacement listens before the old one drains. Checked every second.
   */
  maxProcessMemory?: number
  /** Lower each process's maxProcessMemory by a random 0..N MB, so they do not recycle together. Default: a tenth of it. */
  maxProcessMemoryJitter?: number
  /** ms a process's event loop may stay silent before it is killed and replaced, 0 = off (Gunicorn timeout). Default 30 000. */
  heartbeatTimeout?: number
  /** ms a process may take to build the app and listen, 0 = no limit (Puma worker_boot_timeout). Default 60 000. */
  bootTimeout?: number
  /** Handle SIGHUP (reload), SIGTERM/SIGINT (stop), SIGTTIN/SIGTTOU (add/remove a process). Default true. */
  signals?: boolean
  /** Where lifecycle lines go; false for none. Default: pino to stdout. */
  logger?: ClusterLogger | false
}

export interface ResolvedClusterOptions {
  app: string
  processes: number
  threads: { min: number, max: number }
  /** where the thread bounds came from, for the log and --help */
  threadsFrom: 'option' | 'environment' | 'default'
  port: number
  host: string
  gracefulTimeout: number
  shutdownDelay: number
  maxRequestsPerProcess: number
  maxRequestsJitter: number
  /** bytes; 0 = never */
  maxProcessMemory: number
  /** bytes */
  maxProcessMemoryJitter: number
  heartbeatTimeout: number
  bootTimeout: number
  signals: boolean
  logger: ClusterLogger
}

const KNOWN_KEYS = new Set(['app', 'processes', 'threads', 'listen', 'gracefulTimeout', 'maxRequestsPerProcess',
  'maxRequestsJitter', 'heartbeatTimeout', 'bootTimeout', 'signals', 'logger', 'shutdownDelay',
  'maxProcessMemory', 'maxProcessMemoryJitter'])

function fail (name: string, problem: string): never {
  throw new FST_MPM_INVALID_OPTION(name, problem)
}

function integer (name: string, value: unknown, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(name, `must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`)
  }
  return value
}

export function appHref (app: unknown): string {
  let href: string
  if (app instanceof URL) href = app.href
  else if (typeof app === 'string' && isAbsolute(app)) href = pathToFileURL(app).href
  else if (typeof app === 'string' && app.startsWith('file:')) href = new URL(app).href
  else if (typeof app === 'string' && app !== '') {
    fail('app', `"${app}" is relative: pass new URL('${app}', import.meta.url) or an absolute path`)
  } else fail('app', `must be a file URL or an absolute path to the app module, got ${JSON.stringify(app)}`)
  if (!href.startsWith('file:')) fail('app', `must be a file: URL, got ${href}`)
  if (!existsSync(fileURLToPath(href))) fail('app', `module ${fileURLToPath(href)} does not exist`)
  return href
}

/** Threads per process so that processes × threads ≈ cores (at least one). */
export function defaultThreadsPerProcess (processes: number, cores = availableParallelism()): number {
  return Math.max(1, Math.round(cores / processes))
}

export function resolveClusterOptions (opts: ClusterOptions): ResolvedClusterOptions {
  if (opts === null || typeof opts !== 'object') fail('options', 'must be an object')
  for (const key of Object.keys(opts)) {
    if (!KNOWN_KEYS.has(key)) fail(key, `is not a cluster option (known: ${[...KNOWN_KEYS].join(', ')})`)
  }
  const app = appHref(opts.app)
  const processes = opts.processes === 'auto' || opts.processes === undefined
    ? availableParallelism()
    : integer('processes', opts.processes, 1, 1, 1024)

  let threads: { min: number, max: number }
  let threadsFrom: ResolvedClusterOptions['threadsFrom']
  const fromEnv = process.env[THREADS_ENV]
  if (opts.threads !== undefined) {
    threads = parseThreads(opts.threads, 'threads')
    threadsFrom = 'option'
  } else if (fromEnv !== undefined && fromEnv !== '') {
    threads = parseThreads(fromEnv, `${THREADS_ENV} (environment)`)
    threadsFrom = 'environment'
  } else {
    threads = { min: 1, max: defaultThreadsPerProcess(processes) }
    threadsFrom = 'default'
  }

  const listen = opts.listen ?? {}
  if (listen === null || typeof listen !== 'object') fail('listen', 'must be an object such as { port: 3000, host: "127.0.0.1" }')
  for (const key of Object.keys(listen)) {
    if (key !== 'port' && key !== 'host') fail(`listen.${key}`, 'is not supported (known: port, host)')
  }
  const host = listen.host ?? '127.0.0.1'
  if (typeof host !== 'string' || host === '') fail('listen.host', `must be a non-empty string, got ${JSON.stringify(host)}`)

  const logger = opts.logger === undefined
    ? pino({ base: { name: 'fastify-mpm', primary: process.pid } })
    : opts.logger === false ? silentLogger : opts.logger
  if (logger === null || typeof logger !== 'object' || typeof logger.info !== 'function' ||
    typeof logger.warn !== 'function' || typeof logger.error !== 'function') {
    fail('logger', 'must be a pino-like logger (info, warn, error) or false')
  }
  if (opts.signals !== undefined && typeof opts.signals !== 'boolean') fail('signals', 'must be a boolean')

  return {
    app,
    processes,
    threads,
    threadsFrom,
    port: integer('listen.port', listen.port, 3000, 0, 65535),
    host,
    gracefulTimeout: integer('gracefulTimeout', opts.gracefulTimeout, 30_000),
    shutdownDelay: integer('shutdownDelay', opts.shutdownDelay, 0),
    maxRequestsPerProcess: integer('maxRequestsPerProcess', opts.maxRequestsPerProcess, 0),
    maxRequestsJitter: integer('maxRequestsJitter', opts.maxRequestsJitter, 0),
    ...processMemory(opts),
    heartbeatTimeout: integer('heartbeatTimeout', opts.heartbeatTimeout, 30_000),
    bootTimeout: integer('bootTimeout', opts.bootTimeout, 60_000),
    signals: opts.signals ?? true,
    logger
  }
}

const MB = 1024 * 1024

function processMemory (opts: ClusterOptions): Pick<ResolvedClusterOptions, 'maxProcessMemory' | 'maxProcessMemoryJitter'> {
  const max = integer('maxProcessMemory', opts.maxProcessMemory, 0, 0, 1024 * 1024)
  const jitter = integer('maxProcessMemoryJitter', opts.maxProcessMemoryJitter, Math.floor(max / 10), 0, 1024 * 1024)
  if (max > 0 && jitter >= max / 2) fail('maxProcessMemoryJitter', `(${jitter} MB) must be less than half of maxProcessMemory (${max} MB)`)
  return { maxProcessMemory: max * MB, maxProcessMemoryJitter: jitter * MB }
}

const silentLogger: ClusterLogger = { info () {}, warn () {}, error () {} }

export function formatThreads (threads: { min: number, max: number } | null): string {
  if (threads === null) return 'none'
  return threads.min === threads.max ? String(threads.max) : `${threads.min}:${threads.max}`
}
