// One offloaded request, from an adapter's plain copy of it to what the handler returned or threw:
// the task is built, a body too deep for structured clone goes as JSON text, a queued task is
// dropped if its response closes first, and observers hear how it ended. What the outcome means
// for the framework's reply (replaying the reply calls, returning or throwing the value) is the
// adapter's; everything before that is the same for every framework.

import type { ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { TaskCost } from './batch.js'
import { isTooDeepToClone, stringifyDeep } from './deep-body.js'
import { TaskKind, type Outcome, type RequestData, type RouteTask } from './marshal.js'
import type { OffloadTarget, TaskEvent, TaskObserver, TaskResult } from './offload-target.js'
import type { LoggerLike, ThreadPool } from './pool.js'
import { decodeRouteValue, deserializeError, ValueKind, type SerializedError } from './route-value.js'
import type { BadStatus } from './route-error.js'
import type { ReplyStart } from './thread-reply.js'
import type { BodySource } from './body-feed.js'

/** What a route needs at request time, resolved once when the route is added. */
export interface RouteBinding extends OffloadTarget {
  route: string
  pool: ThreadPool
  retryAfter: string
  observers: TaskObserver[]
  /** The route's recent run time, shared by its requests. */
  cost: TaskCost
}

export interface RouteCall {
  request: RequestData
  /** The request's declared body length, which lets small bodies skip the depth check. */
  contentLength: string | undefined
  /** The reply as hooks or middleware left it before the handler, when they changed it. */
  start: ReplyStart | undefined
  /** `params` (1) and `query` (2) have no prototype: the thread gives its copies none either. */
  np?: number
  /** The response: once it closes, a task still waiting for a thread is dropped. */
  res: ServerResponse
  log: LoggerLike
  /** The raw request body, for a route that streams it (`body: 'stream'`). */
  body?: BodySource
  /**
   * The framework would answer an object with plain JSON.stringify() (no response schema, no
   * custom serializer, no preSerialization hook, a JSON content type or none): the thread may
   * send the text (route-json.ts), and the outcome's `vk` is then ValueKind.Json.
   */
  json?: boolean
}

/** Bit 1: `params` has no prototype; bit 2: nor has `query` (the thread's copies get none either). */
export function nullPrototypeBits (params: unknown, query: unknown): number | undefined {
  const bits = (isBare(params) ? 1 : 0) | (isBare(query) ? 2 : 0)
  return bits === 0 ? undefined : bits
}

function isBare (value: unknown): boolean {
  return value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === null
}

/** The declared length the depth check may trust: not that of a compressed body, which inflates. */
export function plainLength (headers: Record<string, string | string[] | undefined>): string | undefined {
  const encoding = headers['content-encoding']
  return encoding === undefined || encoding === 'identity' ? headers['content-length'] as string | undefined : undefined
}

/** Runs the route's handler in a thread; rejects with the pool's errors (queue full, timeout, crash…). */
export function dispatchRoute (binding: RouteBinding, call: RouteCall): Promise<Outcome> {
  const task: RouteTask = { k: TaskKind.Route, m: binding.href, e: binding.exportName, id: 0, lv: 0, r: call.request }
  if (call.start !== undefined) task.rs = call.start
  if (call.np !== undefined) task.np = call.np
  if (call.json === true) task.sj = 1
  if (isTooDeepToClone(call.request.body, call.contentLength)) {
    task.r = { ...call.request, body: stringifyDeep(call.request.body) }
    task.bj = 1
  }
  // The response itself tells the pool when nobody can use the result any more: it is destroyed
  // once it closed, because the client left or the framework already answered (Fastify's
  // handlerTimeout). Not request.signal: with Fastify 5.12 on Node 20 it aborts as soon as a
  // request body has been read (fastify/fastify#6725), which dropped every queued POST.
  const started = binding.observers.length === 0 ? 0 : performance.now()
  // A streamed-in body is read as the handler reads it: such a task never waits in a batch.
  const running = binding.pool.run(task, call.body === undefined
    ? { timeout: binding.timeout, watch: call.res, log: call.log, cost: binding.cost }
    : { timeout: binding.timeout, watch: call.res, log: call.log, body: call.body })
  return started === 0 ? running : observed(binding, call.request.id, running, started)
}

/** Tells the route's observers (status page, metrics, slow log) how the request ended. */
async function observed (binding: RouteBinding, reqId: string, running: Promise<Outcome>, started: number): Promise<Outcome> {
  try {
    const outcome = await running
    notify(binding, reqId, outcome.ok ? 'ok' : 'error', outcome.d ?? performance.now() - started)
    return outcome
  } catch (err) {
    notify(binding, reqId, resultOf(err as Error), performance.now() - started)
    throw err
  }
}

/**
 * The value the handler returned or threw, rebuilt on this thread. `badStatus` turns a value the
 * handler passed to `reply.code()` into the framework's own error for it, when it has one.
 */
export function outcomeValue (outcome: Outcome, badStatus: (bad: BadStatus) => Error | undefined): unknown {
  if (outcome.vk !== ValueKind.Error) return decodeRouteValue(outcome)
  const data = outcome.v as SerializedError
  return (data.bs !== undefined ? badStatus(data.bs) : undefined) ?? deserializeError(data)
}

/** The route behind a failure, for the log: never enumerable on the error, so no client sees it. */
export function routeContext (binding: RouteBinding): { route: string, module: string, export: string } {
  return { route: binding.route, module: binding.href, export: binding.exportName }
}

/**
 * Names the route in an uncloneable-value error (the thread that found it does not know the
 * route) and, for a failure answered 5xx, attaches the route context as `err.offload`, not
 * enumerable. Returns the context when the failure is a 5xx, so the adapter can log with it.
 */
export function explainFailure (thrown: unknown, binding: RouteBinding): ReturnType<typeof routeContext> | undefined {
  if (thrown === null || typeof thrown !== 'object') return routeContext(binding)
  const err = thrown as Error & { statusCode?: unknown, status?: unknown, code?: unknown }
  if (err.code === 'FST_MPM_NOT_CLONEABLE' && !err.message.startsWith('route ')) err.message = `route ${binding.route}: ${err.message}`
  const status = Number(err.statusCode ?? err.status)
  if (status >= 400 && status < 500) return undefined
  const context = routeContext(binding)
  if (err instanceof Error) {
    Object.defineProperty(err, 'offload', { value: context, enumerable: false, configurable: true, writable: true })
  }
  return context
}

/**
 * A queued task dropped because nobody can use its answer any more (its client went away, or the
 * framework already answered): not a server fault, so there is nothing to answer and nothing to
 * alert on. Logged at debug without a stack, as Fastify logs a client's aborted request at info;
 * the adapter then neither answers nor hands the error to the app's error handling.
 */
export function droppedForGoneClient (thrown: unknown, binding: RouteBinding, log: LoggerLike): boolean {
  if ((thrown as { code?: unknown } | null)?.code !== 'FST_MPM_TASK_DROPPED') return false
  log.debug({ offload: routeContext(binding) }, `${binding.route}: queued task dropped before it ran: the client went away (or the request was already answered)`)
  return true
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
  const event: TaskEvent = { route: binding.route, module: binding.href, export: binding.exportName, reqId, result, durationMs, pool: binding.poolName }
  for (const observer of binding.observers) observer(event)
}
