// A thrown or returned Error as data, and back. The main thread hands the framework a plain Error
// carrying what a handler or error handler can read: name, message (enumerable when it was),
// stack, `code`, `statusCode`, `cause` (an Error, or any other value as JSON would see it), the
// error's own fields in their order, and `headers` whose values convert to text as the originals
// did (stand-in.ts). `code()`'s own error is replaced by the real reply's.

import { FST_MPM_NOT_CLONEABLE } from './errors.js'
import { DEFER, functionLike, rebuildDeferred, type Deferred } from './route-rebuild.js'
import { defineField, jsonShapeOrOmit, OMIT, shapeContext, shapeField, type ShapeContext } from './route-shape.js'
import { decodeHeaderBag, decodeHeaderValue, encodeHeaderBag, encodeHeaderValue } from './stand-in.js'
import { kBadStatus } from './thread-reply.js'

/** The value a handler passed to `reply.code()`: as it was when primitive (`p`), and Fastify's message for it. */
export interface BadStatus { p: boolean, c?: unknown, m: string }

export interface SerializedError {
  name: string
  message: string
  stack?: string
  code?: unknown
  statusCode?: unknown
  props?: Record<string, unknown>
  cause?: SerializedError
  /** A cause that is not an Error, as JSON would see it (`hc`: there is one). */
  cv?: unknown
  hc?: 1
  /** A cause that is a symbol (its description), or a function. */
  cy?: string
  cf?: 1
  /** The cause function's source, for its stand-in's toString(). */
  cs?: string
  /** A hidden own `message` that is not a string (`hm`: there is one). */
  mv?: unknown
  hm?: 1
  /** Reading `stack` threw this message. */
  sf?: string
  /** `message` is an own enumerable field. */
  me?: 1
  /** props.headers holds encoded header values. */
  hh?: 1
  /** `code`/`statusCode` fields that are stand-ins (stand-in.ts): objects, functions, symbols. */
  sv?: string[]
  /** Failures met reading the fields (route-rebuild.ts), replayed where they were met. */
  dd?: 1
  bs?: BadStatus
}

/**
 * `strict` (a route's answer): a `code` or `statusCode` that is not plain data crosses as a
 * stand-in that converts as it did, a field whose getter or toJSON() throws throws again where it
 * is read; otherwise (log lines) such values are described as text or left out.
 */
export function serializeError (err: Error, strict = true, depth = 0, shared?: ShapeContext): SerializedError {
  const fields = err as unknown as Record<string | symbol, unknown>
  // `shared`: an Error inside a value shares that value's copies, so a cycle through it stays one.
  const ctx = strict ? (shared ?? shapeContext(false)) : undefined
  const out: SerializedError = {
    name: textOf(err, 'name'),
    message: textOf(err, 'message'),
    stack: undefined
  }
  // V8 formats the stack on first read, through the message: a message getter that throws makes
  // reading the stack throw, here and (replayed) on the main thread.
  try {
    if (typeof err.stack === 'string') out.stack = err.stack
  } catch (failure) {
    out.sf = failure instanceof Error ? textOf(failure, 'message') : String(failure)
  }
  // Own enumerable fields in their order (what an error handler that spreads the error sees),
  // then code and statusCode where they are inherited or hidden (what it reads by name).
  const own = enumerableKeys(err)
  // A hidden own message that is not text (`null`, a number, an object) is kept as it is.
  if (ctx !== undefined && !own.includes('message')) {
    try {
      const message = Object.getOwnPropertyDescriptor(err, 'message')?.value
      if (message !== undefined && typeof message !== 'string') {
        const plain = shapeField(message, ctx)
        if (plain !== OMIT) { out.hm = 1; out.mv = plain }
      }
    } catch {}
  }
  for (const key of own) {
    if (key === 'stack') continue
    if (key === 'message') out.me = 1
    let value: unknown
    try {
      value = fields[key]
    } catch (err) {
      if (ctx === undefined) continue
      value = { [DEFER]: 'g', e: err instanceof Error ? serializeError(err, false) : undefined, x: err instanceof Error ? undefined : String(err) } satisfies Deferred
      ctx.deferred = true
      defineField(out.props ??= {}, key, value)
      continue
    }
    if (key === 'headers' && ctx !== undefined) {
      const bag = encodeHeaderBag(value)
      if (bag !== value) out.hh = 1
      value = bag !== value ? bag : crossingField(value, key, ctx, out)
    } else {
      value = crossingField(value, key, ctx, out)
    }
    if (value === OMIT) continue
    defineField(out.props ??= {}, key, value)
  }
  for (const key of ['code', 'statusCode'] as const) {
    if (own.includes(key) || fields[key] === undefined) continue
    const value = crossingField(fields[key], key, ctx, out)
    if (value !== OMIT) out[key] = value
  }
  if ('cause' in err && !own.includes('cause')) {
    const cause = err.cause
    if (cause instanceof Error) {
      if (depth < 3) out.cause = serializeError(cause, false, depth + 1)
    } else {
      out.hc = 1
      if (typeof cause === 'symbol') out.cy = cause.description ?? ''
      else if (typeof cause === 'function') {
        out.cf = 1
        try { out.cs = Function.prototype.toString.call(cause) } catch {}
      }
      else {
        const plain = ctx === undefined ? jsonShapeOrOmit(cause) : shapeField(cause, ctx)
        if (plain !== OMIT) out.cv = plain
      }
    }
  }
  if (ctx?.deferred === true) out.dd = 1
  if (kBadStatus in fields) {
    const code = fields[kBadStatus]
    const primitive = code === null || (typeof code !== 'object' && typeof code !== 'function' && typeof code !== 'symbol')
    out.bs = primitive ? { p: true, c: code, m: out.message } : { p: false, m: out.message }
  }
  return out
}

/**
 * Object.keys(), but an error whose stack cannot be formatted (its message getter throws) makes
 * Object.keys() itself throw when it looks at `stack` (a Proxy around such an error does): then
 * the keys are taken one by one, `stack` (never enumerable) left aside.
 */
function enumerableKeys (err: Error): string[] {
  try {
    return Object.keys(err)
  } catch {
    const keys: string[] = []
    for (const key of Reflect.ownKeys(err)) {
      if (typeof key !== 'string' || key === 'stack') continue
      try {
        if (Object.prototype.propertyIsEnumerable.call(err, key)) keys.push(key)
      } catch {}
    }
    return keys
  }
}

/** `String(err[key])`, or '' when reading it throws (an own field that does is replayed through props). */
function textOf (err: Error, key: 'name' | 'message'): string {
  try {
    return String(err[key])
  } catch {
    return ''
  }
}

/**
 * A field as JSON would see it. `code` and `statusCode` decide the answer: one that is not plain
 * data crosses as a stand-in (route answers) or as text (log lines).
 */
function crossingField (value: unknown, key: string, ctx: ShapeContext | undefined, out: SerializedError): unknown {
  // A function or symbol there crosses as a stand-in; an object as its data (an own valueOf()
  // or toString() kept as what it gave), which a handler serializing the error needs too.
  const byName = key === 'code' || key === 'statusCode'
  if (byName && (typeof value === 'function' || typeof value === 'symbol' || (ctx === undefined && value !== null && typeof value === 'object'))) {
    if (ctx === undefined) return typeof value === 'symbol' ? value.toString() : jsonShapeOrOmit(value) === OMIT ? String(value) : jsonShapeOrOmit(value)
    ;(out.sv ??= []).push(key)
    return encodeHeaderValue(value)
  }
  return ctx === undefined ? jsonShapeOrOmit(value) : shapeField(value, ctx)
}

/** `made`: told of the Error before its fields are filled, so a field that cycles back to it can be it. */
export function deserializeError (data: SerializedError, made?: (err: Error) => void): Error {
  const err = new Error(data.message) as Error & Record<string, unknown>
  made?.(err)
  const hidden = (key: string, value: unknown): void => {
    Object.defineProperty(err, key, { value, enumerable: false, configurable: true, writable: true })
  }
  // An own enumerable message comes back through props, in its place among the fields.
  if (data.me === 1) delete (err as { message?: string }).message
  if (data.hm === 1) {
    const box = { message: data.mv }
    if (data.dd === 1) rebuildDeferred(box)
    hidden('message', Object.getOwnPropertyDescriptor(box, 'message')?.value)
  }
  if (data.props === undefined || !Object.hasOwn(data.props, 'name')) hidden('name', data.name)
  if (data.stack !== undefined) err.stack = data.stack
  else if (data.sf !== undefined) {
    const failure = new Error(data.sf)
    Object.defineProperty(err, 'stack', { get () { throw failure }, enumerable: false, configurable: true })
  }
  if (data.code !== undefined) hidden('code', data.code)
  if (data.statusCode !== undefined) hidden('statusCode', data.statusCode)
  if (data.cause !== undefined) hidden('cause', deserializeError(data.cause))
  else if (data.hc === 1) {
    const box = { cause: data.cy !== undefined ? Symbol(data.cy) : data.cf === 1 ? functionLike(data.cs) : data.cv }
    if (data.dd === 1) rebuildDeferred(box)
    hidden('cause', box.cause)
  }
  if (data.props !== undefined) {
    for (const key of Object.keys(data.props)) {
      Object.defineProperty(err, key, { value: data.props[key], enumerable: true, writable: true, configurable: true })
    }
    if (data.hh === 1) err.headers = decodeHeaderBag(err.headers)
  }
  for (const key of data.sv ?? []) err[key] = decodeHeaderValue(err[key])
  if (data.dd === 1) rebuildDeferred(err)
  return err
}
