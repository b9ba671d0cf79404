// The Fastify route handler: copies the request into plain data, has the core run the route's
// module in a thread, replays the handler's reply calls on the real reply and hands Fastify the
// value the handler returned or threw. Everything else (routing, validation, hooks,
// serialization, the error handler) stays Fastify's, on the main thread.

import { errorCodes, type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteHandlerMethod } from 'fastify'
import { FST_MPM_NOT_REGISTERED } from '../core/errors.js'
import { offloadTarget, type OffloadOptions, type OffloadTarget } from '../core/offload-target.js'
import { dispatchRoute, droppedForGoneClient, explainFailure, nullPrototypeBits, routeContext, outcomeValue, plainLength, type RouteBinding } from '../core/route-dispatch.js'
import type { BadStatus } from '../core/route-error.js'
import { decodeHeaderValue } from '../core/stand-in.js'
import { ReplyOp, type ReplyCall, type ReplyStart } from '../core/thread-reply.js'
import type { BodySource } from '../core/body-feed.js'
import { StreamSink } from '../core/stream-sink.js'
import { returnedBody } from '../core/body-move.js'
import { bodySource } from './stream-body.js'
import { answersWithPlainJson } from './plain-json.js'
import { ValueKind } from '../core/route-value.js'

export const kOffload = Symbol.for('fastify-mpm.offload')

export type OffloadedHandler = RouteHandlerMethod & { [kOffload]: OffloadTarget }

/** Marks a route's handler to run `moduleUrl`'s export in a worker thread. */
export function offload (moduleUrl: URL | string, opts: OffloadOptions = {}): OffloadedHandler {
  const target = offloadTarget(moduleUrl, opts)
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
  let outcome
  try {
    const body = binding.streamBody === true ? streamedBody(request) : undefined
    outcome = await dispatchRoute(binding, {
      request: {
        id: request.id,
        method: request.method,
        url: request.url,
        params: request.params,
        query: request.query,
        headers: request.headers,
        body: request.body,
        ip: request.ip,
        hostname: request.hostname
      },
      contentLength: plainLength(request.headers),
      np: nullPrototypeBits(request.params, request.query),
      start: replyStart(reply),
      res: reply.raw,
      log: request.log,
      body,
      json: answersWithPlainJson(request, reply)
    })
  } catch (err) {
    // Nobody to answer: Fastify is not handed an error it would log as a 5xx.
    if (droppedForGoneClient(err, binding, request.log)) return undefined
    if (pool.closing || isTooLarge(err)) reply.header('connection', 'close')
    if ((err as { statusCode?: number }).statusCode === 503) reply.header('retry-after', binding.retryAfter)
    throw withContext(err, binding, request, reply)
  }
  // A body moved to the thread is back (body-move.ts): hooks after the handler read it as inline.
  if (outcome.rb !== undefined) request.body = returnedBody(outcome)
  // While closing, end each keep-alive connection after its answer so close() is not held open.
  if (pool.closing) reply.header('connection', 'close')
  if (outcome.ops !== undefined) replay(reply, outcome.ops)
  // From here on Fastify does with the value what it does with any handler's: the same value
  // returned or thrown, so the same serializer, error handler and hooks decide the answer.
  const value = outcomeValue(outcome, (code) => badStatus(reply, code))
  // JSON text made in the thread: Fastify sends it as the object's serialization (plain-json.ts).
  if (outcome.vk === ValueKind.Json && !reply.hasHeader('content-type')) reply.header('content-type', 'application/json; charset=utf-8')
  if (outcome.st === 1) nameRouteOnStreamError(value, binding, request, reply)
  if (outcome.ok) return value
  // A streamed body past the limit: the client may still be sending, so the connection ends (as Fastify's own 413).
  if (binding.streamBody === true && isTooLarge(value)) reply.header('connection', 'close')
  throw withContext(value, binding, request, reply)
}

/**
 * The raw body for a `body: 'stream'` route; a declared length past the route's bodyLimit is
 * refused before anything runs, with Fastify's own 413.
 */
function streamedBody (request: FastifyRequest): BodySource {
  const source = bodySource(request, () => new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE())
  const declared = Number(request.headers['content-length'])
  if (source.limit > 0 && declared > source.limit) throw source.tooLarge()
  return source
}

function isTooLarge (err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
}

/**
 * A stream that fails after its head went out is logged by Fastify once, through reply.log:
 * that log names the route and module, as a thrown 5xx's does.
 */
function nameRouteOnStreamError (value: unknown, binding: RouteBinding, request: FastifyRequest, reply: FastifyReply): void {
  if (!(value instanceof StreamSink)) return
  value.beforeError = () => {
    const log = request.log.child({ offload: routeContext(binding) })
    reply.log = log
  }
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
      case ReplyOp.Header: reply.header(call[1], decodeHeaderValue(call[2])); break
      case ReplyOp.RemoveHeader: reply.removeHeader(call[1]); break
      case ReplyOp.Type: reply.type(decodeHeaderValue(call[1]) as string); break
    }
  }
}

/**
 * An invalid `reply.code()` in the thread fails as the real reply's code() fails, with Fastify's
 * own error; an object passed to it did not cross, so its error carries the thread's message.
 */
function badStatus (reply: FastifyReply, bad: BadStatus): Error | undefined {
  try {
    reply.code((bad.p ? bad.c : NaN) as number)
  } catch (err) {
    if (!bad.p) (err as Error).message = bad.m
    return err as Error
  }
  return undefined
}

/** A 5xx logged by Fastify names the route and module, as a binding of the request's log. */
function withContext (thrown: unknown, binding: RouteBinding, request: FastifyRequest, reply: FastifyReply): unknown {
  let context
  try {
    context = explainFailure(thrown, binding)
  } catch {
    // A thrown object whose statusCode getter throws: the error handler meets that, as inline.
    context = routeContext(binding)
  }
  if (context !== undefined) {
    // Fastify's error handler logs through reply.log, a copy of request.log made per request.
    const log = request.log.child({ offload: context })
    request.log = log
    reply.log = log
  }
  return thrown
}
