// The route handler: copies the request into plain data, runs the route's module in a thread,
// and applies what comes back to the real reply. Everything else — routing, validation, hooks,
// serialization, the error handler — stays Fastify's, on the main thread.

import type { ServerResponse } from 'node:http'
import { isAbsolute } from 'node:path'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify'
import { FST_MPM_INVALID_HANDLER, FST_MPM_NOT_REGISTERED } from './errors.js'
import { isTooDeepToClone, stringifyDeep } from './deep-body.js'
import { TaskKind, type Outcome, type RouteTask } from './marshal.js'
import { decodeRouteValue, deserializeError, ValueKind, type SerializedError } from './route-value.js'
import { ReplyOp, type ReplyCall, type ReplyStart } from './thread-reply.js'
import { OneShotAbort, type ThreadPool } from './pool.js'

export interface OffloadOptions {
  /** The module's export to run. Default: `default`. */
  export?: string
  /** ms this route's handler may run, overriding `taskTimeout` (0 = no limit). */
  timeout?: number
}

export interface OffloadTarget {
  href: string
  exportName: string
  timeout: number | undefined
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
}
export type TaskObserver = (event: TaskEvent) => void

/** What a route needs at request time, resolved once when the route is added. */
export interface RouteBinding extends OffloadTarget {
  route: string
  pool: ThreadPool
  retryAfter: string
  observers: TaskObserver[]
}

export const kOffload = Symbol.for('fastify-mpm.offload')

export type OffloadedHandler = RouteHandlerMethod & { [kOffload]: OffloadTarget }

export function toModuleHref (moduleUrl: URL | string, what = 'module'): string {
  if (moduleUrl instanceof URL) return moduleUrl.href
  if (typeof moduleUrl !== 'string' || moduleUrl === '') {
    throw new FST_MPM_INVALID_HANDLER(`${what} must be a URL or an absolute path, got ${JSON.stringify(moduleUrl)}`)
  }
  if (isAbsolute(moduleUrl)) return pathToFileURL(moduleUrl).href
  if (/^[a-z][a-z0-9+.-]*:/i.test(moduleUrl)) return new URL(moduleUrl).href
  throw new FST_MPM_INVALID_HANDLER(`${what} "${moduleUrl}" is relative: pass new URL('${moduleUrl}', import.meta.url)`)
}

/** Marks a route's handler to run `moduleUrl`'s export in a worker thread. */
export function offload (moduleUrl: URL | string, opts: OffloadOptions = {}): OffloadedHandler {
  const href = toModuleHref(moduleUrl)
  const exportName = opts.export ?? 'default'
  if (typeof exportName !== 'string' || exportName === '') throw new FST_MPM_INVALID_HANDLER('opts.export must be a non-empty string')
  if (opts.timeout !== undefined && (!Number.isInteger(opts.timeout) || opts.timeout < 0)) {
    throw new FST_MPM_INVALID_HANDLER(`opts.timeout must be an integer >= 0 (ms), got ${JSON.stringify(opts.timeout)}`)
  }
  const target: OffloadTarget = { href, exportName, timeout: opts.timeout }
  // Used only if the plugin's onRoute hook did not bind the route (e.g. it was added before
  // the plugin was registered): resolve the pool per request instead.
  const unbound = async function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
    const mpm = (this as FastifyInstance & { mpm?: { bind: (t: OffloadTarget, route: string) => RouteBinding } }).mpm
    if (mpm === undefined) throw new FST_MPM_NOT_REGISTERED(request.routeOptions.url)
    return await handle(mpm.bind(target, request.routeOptions.url ?? request.url), request, reply)
  } as OffloadedHandler
  unbound[kOffload] = target
  return unbound
}

export function bindHandler (binding: RouteBinding): RouteHandlerMethod {
  return async function offloaded (request, reply) { return await handle(binding, request, reply) }
}

async function handle (binding: RouteBinding, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const { pool } = binding
  const task: RouteTask = {
    k: TaskKind.Route,
    m: binding.href,
    e: binding.exportName,
    id: 0,
    lv: 0,
    r: {
      id: request.id,
      method: request.method,
      url: request.url,
      params: request.params,
      query: request.query,
      headers: request.headers,
      body: request.body,
      ip: request.ip,
      hostname: request.hostname
    }
  }
  const start = replyStart(reply)
  if (start !== undefined) task.rs = start
  if (isTooDeepToClone(request.body, request.headers['content-length'])) {
    task.r.body = stringifyDeep(request.body)
    task.bj = 1
  }
  let outcome: Outcome
  const started = binding.observers.length > 0 ? performance.now() : 0
  let gone: ResponseGone | undefined
  try {
    outcome = await pool.run(task, { timeout: binding.timeout, signal: () => (gone = new ResponseGone(reply.raw)), log: request.log })
    if (gone !== undefined) gone.settled = true
  } catch (err) {
    if (gone !== undefined) gone.settled = true
    if (pool.closing) reply.header('connection', 'close')
    if ((err as { statusCode?: number }).statusCode === 503) reply.header('retry-after', binding.retryAfter)
    if (started > 0) notify(binding, request.id, resultOf(err as Error), performance.now() - started)
    throw withContext(err as Error, binding, request, reply)
  }
  if (started > 0) notify(binding, request.id, outcome.ok ? 'ok' : 'error', outcome.d ?? performance.now() - started)
  // While closing, end each keep-alive connection after its answer so close() is not held open.
  if (pool.closing) reply.header('connection', 'close')
  if (outcome.ops !== undefined) replay(reply, outcome.ops)
  // From here on Fastify does with the value what it does with any handler's: the same value
  // returned or thrown, so the same serializer, error handler and hooks decide the answer.
  const value = outcome.vk === ValueKind.Error
    ? rebuildError(outcome.v as SerializedError, reply)
    : decodeRouteValue(outcome)
  if (outcome.ok) return value
  throw withContext(value, binding, request, reply)
}

/** Status and headers that hooks set before the handler, for `reply.getHeader()` in the thread. */
function replyStart (reply: FastifyReply): ReplyStart | undefined {
  const headers = reply.getHeaders() as Record<string, unknown>
  let start: ReplyStart | undefined
  for (const _ in headers) { start = { h: headers }; break }
  if (reply.statusCode !== 200) (start ??= {}).sc = reply.statusCode
  return start
}

function replay (reply: FastifyReply, calls: ReplyCall[]): void {
  for (const call of calls) {
    switch (call[0]) {
      case ReplyOp.Code: reply.code(call[1] as number); break
      case ReplyOp.Header: reply.header(call[1], call[2]); break
      case ReplyOp.RemoveHeader: reply.removeHeader(call[1]); break
      case ReplyOp.Type: reply.type(call[1] as string); break
    }
  }
}

/** An invalid `reply.code()` in the thread fails as the real reply's code() fails, with Fastify's own error. */
function rebuildError (data: SerializedError, reply: FastifyReply): Error {
  if (data.bs !== undefined) {
    try {
      reply.code(data.bs as number)
    } catch (err) {
      return err as Error
    }
  }
  return deserializeError(data)
}

/**
 * Aborts a queued task once nobody can use its result: the response closed before the task
 * settled, because the client left or Fastify already answered (its handlerTimeout).
 * Not request.signal: with Fastify 5.12 on Node 20 it aborts as soon as a request body has been
 * read (fastify/fastify#6725), which dropped every queued POST, and on every normal completion.
 * Not an AbortController either: the pool only listens for one abort, and an AbortSignal per
 * queued request cost ~20 µs of CPU (bench/FINDINGS.md).
 */
class ResponseGone extends OneShotAbort {
  settled = false

  constructor (res: ServerResponse) {
    super()
    if (res.destroyed) this.aborted = true
    else res.once('close', () => { if (!this.settled) this.abort() })
  }
}

const RESULT_BY_CODE: Record<string, TaskResult> = {
  FST_MPM_TASK_TIMEOUT: 'timeout',
  FST_MPM_QUEUE_FULL: 'rejected',
  FST_MPM_QUEUE_TIMEOUT: 'queue-timeout',
  FST_MPM_TASK_DROPPED: 'dropped',
  FST_MPM_CLOSING: 'closing',
  FST_MPM_NOT_CLONEABLE: 'error'
}

function resultOf (err: Error): TaskResult {
  return RESULT_BY_CODE[(err as { code?: string }).code ?? ''] ?? 'crashed'
}

function notify (binding: RouteBinding, reqId: string, result: TaskResult, durationMs: number): void {
  const event: TaskEvent = { route: binding.route, module: binding.href, export: binding.exportName, reqId, result, durationMs }
  for (const observer of binding.observers) observer(event)
}

/**
 * A 5xx logged by Fastify then names the route and module behind it: through the request's log
 * bindings, and as `err.offload` for error handlers. Not enumerable, so an error handler that
 * spreads or serializes the error's keys does not send the module's file URL to the client.
 */
function withContext (thrown: unknown, binding: RouteBinding, request: FastifyRequest, reply: FastifyReply): unknown {
  if (thrown === null || typeof thrown !== 'object') return thrown
  const err = thrown as Error & { statusCode?: unknown, code?: unknown }
  // The thread that found the uncloneable value does not know the route; the answer should name it.
  if (err.code === 'FST_MPM_NOT_CLONEABLE') err.message = `route ${binding.route}: ${err.message}`
  const status = Number(err.statusCode)
  if (status >= 400 && status < 500) return err
  const context = { route: binding.route, module: binding.href, export: binding.exportName }
  if (err instanceof Error) {
    Object.defineProperty(err, 'offload', { value: context, enumerable: false, configurable: true, writable: true })
  }
  // Fastify's error handler logs through reply.log, a copy of request.log made per request.
  const log = request.log.child({ offload: context })
  request.log = log
  reply.log = log
  return err
}
