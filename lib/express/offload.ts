// The Express middleware for an offloaded route: copies the request into the same plain data a
// Fastify handler gets, has the core run the module in a thread, replays the handler's reply
// calls on `res`, and answers the returned value the Express way. Failures go to `next(err)`,
// once, with `status`/`statusCode` set, so the app's error middleware and Express's default
// handler both work, on Express 4 (which ignores rejected promises) as on 5.

import type { Mpm } from '../core/mpm.js'
import type { OffloadTarget } from '../core/offload-target.js'
import { dispatchRoute, droppedForGoneClient, explainFailure, nullPrototypeBits, outcomeValue, plainLength, routeContext, type RouteBinding } from '../core/route-dispatch.js'
import { Readable } from 'node:stream'
import type { BodySource } from '../core/body-feed.js'
import { FST_MPM_BODY_CONSUMED } from '../core/errors.js'
import { isReturnedStream } from '../core/thread-stream.js'
import { returnedBody } from '../core/body-move.js'
import type { BadStatus } from '../core/route-error.js'
import { ValueKind } from '../core/route-value.js'
import { decodeHeaderValue } from '../core/stand-in.js'
import { ReplyOp, type ReplyCall, type ReplyStart } from '../core/thread-reply.js'
import type { ExpressLogger } from './options.js'
import { RouteKeys } from './route-keys.js'
import type { ExpressRequest, ExpressResponse, Middleware, NextFunction } from './types.js'

const MAX_REQUEST_ID = 128
let requestSeq = 0

export interface OffloadContext {
  mpm: Mpm
  log: ExpressLogger
  /** Called with each request's server, so the status page counts its connections. */
  seen: (req: ExpressRequest, res: ExpressResponse) => void
}

export function offloadMiddleware (ctx: OffloadContext, target: OffloadTarget): Middleware {
  // Express names the route only at request time (`req.route`): bind once per route the app
  // declared, never per path a client sends.
  const bindings = new RouteKeys<RouteBinding>()
  return function offloaded (req, res, next) {
    const binding = bindings.get(req, (route) => ctx.mpm.addRoute(target, route))
    ctx.seen(req, res)
    handle(ctx, binding, req, res, next).catch(next)
  }
}

async function handle (ctx: OffloadContext, binding: RouteBinding, req: ExpressRequest, res: ExpressResponse, next: NextFunction): Promise<void> {
  const { pool } = binding
  const id = requestId(req)
  const log = requestLog(ctx.log, id)
  let outcome
  try {
    const body = binding.streamBody === true ? streamedBody(binding, req) : undefined
    outcome = await dispatchRoute(binding, {
      request: {
        id,
        method: req.method as string,
        url: req.originalUrl,
        params: { ...req.params },
        query: req.query,
        headers: req.headers,
        body: req.body,
        ip: req.ip ?? req.socket.remoteAddress ?? '',
        hostname: req.hostname ?? ''
      },
      contentLength: plainLength(req.headers),
      np: nullPrototypeBits(req.params, req.query),
      start: replyStart(res),
      res,
      log,
      body,
      json: answersWithPlainJson(res)
    })
  } catch (err) {
    // Nobody to answer: next(err) would have the app's error middleware (or Express's default
    // handler, which prints the stack) report a server fault.
    if (droppedForGoneClient(err, binding, log)) return
    if (pool.closing && !res.headersSent) res.setHeader('connection', 'close')
    fail(binding, err, res, next, log)
    return
  }
  // A body moved to the thread is back (body-move.ts): later middleware reads it as inline.
  if (outcome.rb !== undefined) req.body = returnedBody(outcome)
  // Answered meanwhile (a timeout middleware, say): nothing more may be written, but a failure
  // still goes to next(err) as any Express error does, so the app's error middleware can log it.
  if (res.headersSent) {
    let late
    try {
      late = outcomeValue(outcome, () => undefined)
    } catch (err) {
      late = err
    }
    if (!outcome.ok || late instanceof Error) fail(binding, late, res, next, log)
    return
  }
  if (pool.closing) res.setHeader('connection', 'close')
  let value
  try {
    if (outcome.ops !== undefined) replay(res, outcome.ops)
    value = outcomeValue(outcome, (code) => badStatus(res, code))
  } catch (err) {
    fail(binding, err, res, next, log)
    return
  }
  if (!outcome.ok || value instanceof Error) {
    fail(binding, value, res, next, log)
    return
  }
  if (isReturnedStream(value)) {
    sendStream(binding, value, res, next, log)
    return
  }
  if (outcome.vk === ValueKind.Json) sendJsonText(res, value as string)
  else send(res, value)
}

/**
 * res.json() sends JSON.stringify(value) unless the app set a replacer, spaces or escaping, or a
 * middleware replaced res.json/res.send on this response: otherwise the thread may make the text
 * (lib/core/route-json.ts), and res.json()'s content type is kept.
 */
function answersWithPlainJson (res: ExpressResponse): boolean {
  const app = res.app
  if (app === undefined) return false
  // A middleware that wraps res.json or res.send on this response (an envelope, a logger) must see the object.
  if (Object.hasOwn(res, 'json') || Object.hasOwn(res, 'send')) return false
  return app.get('json replacer') === undefined && app.get('json spaces') === undefined && !(app.get('json escape') as boolean)
}

/** What res.json() does with the text it made. */
function sendJsonText (res: ExpressResponse, text: string): void {
  if (!res.hasHeader('content-type')) res.set('Content-Type', 'application/json')
  res.send(text)
}

/**
 * The request itself, for a `body: 'stream'` route: a body parser in front of the route would
 * have read it already, which is a mistake to name, not a silent empty body.
 */
function streamedBody (binding: RouteBinding, req: ExpressRequest): BodySource {
  const parsed = (req as { _body?: unknown })._body === true || req.readableEnded
  if (parsed && Number(req.headers['content-length'] ?? 0) > 0) throw new FST_MPM_BODY_CONSUMED(binding.route)
  return { stream: req, limit: 0, tooLarge: () => Object.assign(new Error('request entity too large'), { status: 413 }) }
}

/**
 * A returned stream piped to `res` (Express has no stream payload of its own): content-type as
 * Fastify defaults it, a failure before any byte goes to next(err), after it the response is cut
 * and the failure logged once, with the route. The client leaving destroys the stream.
 */
function sendStream (binding: RouteBinding, value: Readable | ReadableStream, res: ExpressResponse, next: NextFunction, log: ExpressLogger): void {
  const stream = value instanceof Readable ? value : Readable.fromWeb(value as never)
  let over = false
  stream.once('error', (err) => {
    if (over) return
    over = true
    stream.unpipe(res)
    if (!res.headersSent) {
      fail(binding, err, res, next, log)
      return
    }
    log.error({ err, offload: routeContext(binding) }, 'response terminated with an error with headers already sent')
    res.destroy()
  })
  stream.once('end', () => { over = true })
  // The client left: the stream (and, for a thread's stream, its producer) is let go.
  res.once('close', () => {
    if (over) return
    over = true
    stream.destroy()
  })
  stream.pipe(res)
}

/**
 * The request's logger, a child with its reqId, made on first use: most requests log nothing,
 * and a pino child per request was a measurable part of the dispatch cost.
 */
function requestLog (parent: ExpressLogger, reqId: string): ExpressLogger {
  let child: ExpressLogger | undefined
  const get = (): ExpressLogger => (child ??= parent.child({ reqId }))
  const levelVal = (parent as { levelVal?: number }).levelVal
  return {
    levelVal,
    resolve: get,
    trace: (obj: unknown, msg?: string) => get().trace(obj, msg),
    debug: (obj: unknown, msg?: string) => get().debug(obj, msg),
    info: (obj: unknown, msg?: string) => get().info(obj, msg),
    warn: (obj: unknown, msg?: string) => get().warn(obj, msg),
    error: (obj: unknown, msg?: string) => get().error(obj, msg),
    fatal: (obj: unknown, msg?: string) => get().fatal(obj, msg),
    child: (bindings: Record<string, unknown>) => get().child(bindings)
  }
}

/** The request id: the client's `X-Request-Id` when it sent a sane one (Express has none), else a sequence. */
function requestId (req: ExpressRequest): string {
  const given = req.headers['x-request-id']
  if (typeof given === 'string' && given !== '' && given.length <= MAX_REQUEST_ID && /^[\x21-\x7e]+$/.test(given)) return given
  return `req-${(++requestSeq).toString(36)}`
}

/** Headers middleware set before the handler, for `reply.getHeader()` in the thread. */
function replyStart (res: ExpressResponse): ReplyStart | undefined {
  const names = res.getHeaderNames()
  let start: ReplyStart | undefined
  if (names.length > 0) start = { h: res.getHeaders() as Record<string, unknown> }
  if (res.statusCode !== 200) (start ??= {}).sc = res.statusCode
  return start
}

/**
 * reply.code/header/type as res.status/set/type. `set-cookie` accumulates as in the thread's
 * reply (res.append), other headers replace; Express adds a charset to a bare text type.
 */
function replay (res: ExpressResponse, calls: ReplyCall[]): void {
  for (const call of calls) {
    switch (call[0]) {
      case ReplyOp.Code: res.status(Number(call[1])); break
      case ReplyOp.Header: {
        const value = decodeHeaderValue(call[2])
        const name = call[1]
        const text = Array.isArray(value) ? value.map(String) : String(value)
        if (name === 'set-cookie') res.append(name, text)
        else res.set(name, text)
        break
      }
      case ReplyOp.RemoveHeader: res.removeHeader(call[1]); break
      case ReplyOp.Type: res.type(String(decodeHeaderValue(call[1]))); break
    }
  }
}

/** Express 5's res.status() refuses what is not a status code; Express 4 has no error of its own. */
function badStatus (res: ExpressResponse, bad: BadStatus): Error | undefined {
  try {
    res.status((bad.p ? bad.c : NaN) as number)
  } catch (err) {
    return err as Error
  }
  return undefined
}

/**
 * The value as Express answers it: bytes as bytes, a string as text/plain (not res.send's
 * text/html: a handler's text must not be rendered as markup, and Fastify sends text/plain
 * too), `undefined` and `null` as an empty body, anything else as JSON.
 */
function send (res: ExpressResponse, value: unknown): void {
  if (value === undefined || value === null) {
    res.end()
    return
  }
  if (typeof value === 'string') {
    if (!res.hasHeader('content-type')) res.type('text/plain; charset=utf-8')
    res.send(value)
    return
  }
  if (Buffer.isBuffer(value)) {
    res.send(value)
    return
  }
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    res.send(Buffer.from(value.buffer, value.byteOffset, value.byteLength))
    return
  }
  res.json(value)
}

/** next(err) once, with an HTTP status Express's handlers read, Retry-After kept on 503s. */
function fail (binding: RouteBinding, thrown: unknown, res: ExpressResponse, next: NextFunction, log: ExpressLogger): void {
  const err = asError(thrown)
  const context = explainFailure(err, binding)
  const status = httpStatus(err)
  err.status = status
  err.statusCode = status
  if (status === 503) {
    // Only an object's fields: Express's handlers ignore any other `headers` (a string is not spread).
    const own = err.headers !== null && typeof err.headers === 'object' ? err.headers : {}
    const headers = { ...own, 'retry-after': binding.retryAfter }
    err.headers = headers
    if (!res.headersSent) res.setHeader('retry-after', binding.retryAfter)
  }
  if (context !== undefined) log.error({ err, offload: context }, err.message)
  next(err)
}

type HttpError = Error & { status?: number, statusCode?: number, headers?: Record<string, string> }

/**
 * What a handler threw, as an Error: Express gives strings passed to next() a meaning of their own
 * ('route', 'router'), so a thrown string or plain object is wrapped, keeping its message and status.
 */
function asError (thrown: unknown): HttpError {
  if (thrown instanceof Error) return thrown as HttpError
  if (thrown !== null && typeof thrown === 'object') {
    const { message, ...fields } = thrown as { message?: unknown }
    return Object.assign(new Error(message === undefined ? 'Non-error thrown by an offloaded handler' : String(message)), fields) as HttpError
  }
  return new Error(thrown === undefined ? 'Non-error thrown by an offloaded handler' : String(thrown)) as HttpError
}

/** Like Express's finalhandler: a 4xx or 5xx from `status` or `statusCode`, else 500. */
function httpStatus (err: HttpError): number {
  const status = Number(err.status ?? err.statusCode)
  return Number.isInteger(status) && status >= 400 && status <= 599 ? status : 500
}
