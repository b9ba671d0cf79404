// What a route handler returns or throws, made fit to cross from its thread to the main thread
// without changing what the framework will send. Structured clone and JSON disagree: clone
// rejects functions and proxies, strips class instances, ignores toJSON() and cannot rebuild a
// value nested ~2,000 deep, while JSON.stringify (what Fastify serializes with) calls toJSON(),
// keeps class instances' own fields and drops functions. So a value goes as it is where both
// agree (the common case, checked without copying), as the plain data JSON would see where they
// do not, and as JSON text where it is nested too deep for clone.

import { types } from 'node:util'
import { FST_MPM_NOT_CLONEABLE } from './errors.js'
import { kBadStatus } from './thread-reply.js'

export const enum ValueKind { Undefined = 0, Plain = 1, Buffer = 2, Error = 3, Json = 4 }

export interface EncodedValue {
  v?: unknown
  vk: ValueKind
  /** A whole ArrayBuffer to move rather than copy. */
  transfer?: ArrayBuffer
}

/** Deeper than this, values travel as JSON text: V8 rebuilds clones recursively and gives up near 2,000. */
export const MAX_CLONE_DEPTH = 1000

class TooDeep extends Error {}
const OMIT = Symbol('omit')

export function encodeRouteValue (value: unknown): EncodedValue {
  switch (typeof value) {
    case 'undefined': return { vk: ValueKind.Undefined }
    // JSON.stringify gives undefined for these, so the framework would send no body either.
    case 'function': case 'symbol': return { vk: ValueKind.Undefined }
    case 'object': break
    default: return { v: value, vk: ValueKind.Plain }
  }
  if (value === null) return { v: null, vk: ValueKind.Plain }
  if (value instanceof Error) return { v: serializeError(value), vk: ValueKind.Error }
  if (Buffer.isBuffer(value)) return { v: value, vk: ValueKind.Buffer, transfer: wholeBuffer(value) }
  if (ArrayBuffer.isView(value)) return { v: value, vk: ValueKind.Plain, transfer: wholeBuffer(value) }
  if (isCloneSafe(value, 0)) return { v: value, vk: ValueKind.Plain }
  try {
    return { v: jsonShape(value, '', 0, new Map()), vk: ValueKind.Plain }
  } catch (err) {
    if (!(err instanceof TooDeep)) throw err
  }
  // Too deep to clone: JSON text, parsed back (iteratively, so any depth) on the main thread,
  // where the framework serializes it again exactly as it would have inline.
  return { v: JSON.stringify(value), vk: ValueKind.Json }
}

/** Rebuilds on the main thread what encodeRouteValue sent; errors come back as plain Error objects. */
export function decodeRouteValue (encoded: { v?: unknown, vk?: ValueKind }): unknown {
  switch (encoded.vk) {
    case ValueKind.Undefined: return undefined
    case ValueKind.Buffer: {
      const bytes = encoded.v as Uint8Array
      return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    }
    case ValueKind.Json: return JSON.parse(encoded.v as string)
    default: return encoded.v
  }
}

/** Moving is only safe when the view owns its whole buffer: small Buffers share Node's pool. */
function wholeBuffer (view: ArrayBufferView): ArrayBuffer | undefined {
  return view.byteOffset === 0 && view.byteLength === view.buffer.byteLength && view.buffer instanceof ArrayBuffer
    ? view.buffer
    : undefined
}

/**
 * True when structured clone delivers a value the framework serializes exactly as the original:
 * plain objects and arrays of primitives, dates and binary data, no toJSON, no proxies, no
 * functions, shallower than MAX_CLONE_DEPTH. A cycle runs into the depth bound and is copied.
 */
function isCloneSafe (value: object, depth: number): boolean {
  if (depth > MAX_CLONE_DEPTH || types.isProxy(value)) return false
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isSafeEntry(value[i], depth)) return false
    return true
  }
  const proto = Object.getPrototypeOf(value)
  if (proto === Object.prototype || proto === null) {
    for (const key of Object.keys(value)) if (!isSafeEntry((value as Record<string, unknown>)[key], depth)) return false
    return true
  }
  return value instanceof Date || types.isAnyArrayBuffer(value) || (ArrayBuffer.isView(value) && !Buffer.isBuffer(value))
}

function isSafeEntry (entry: unknown, depth: number): boolean {
  const type = typeof entry
  if (type === 'object') return entry === null || isCloneSafe(entry as object, depth + 1)
  return type !== 'function' && type !== 'symbol'
}

/**
 * The data JSON.stringify would see (ECMA-262 SerializeJSONProperty): toJSON() applied, own
 * enumerable fields only, functions and symbols dropped (null inside arrays). Dates, binary data,
 * RegExps and boxed primitives survive clone and serialize the same, so they stay as they are;
 * Maps and Sets serialize as {} whatever they hold. Cycles are kept, so the framework reports them
 * as it would inline.
 */
function jsonShape (value: unknown, key: string, depth: number, seen: Map<object, unknown>): unknown {
  if (value !== null && typeof value === 'object' && !(value instanceof Date) &&
    typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON: (key: string) => unknown }).toJSON(key)
  }
  const type = typeof value
  if (type === 'function' || type === 'symbol') return OMIT
  if (value === null || type !== 'object') return value
  const object = value as object
  if (depth > MAX_CLONE_DEPTH) throw new TooDeep()
  const copied = seen.get(object)
  if (copied !== undefined) return copied
  if (!types.isProxy(object)) {
    if (object instanceof Date || object instanceof RegExp || types.isAnyArrayBuffer(object) ||
      ArrayBuffer.isView(object) || types.isBoxedPrimitive(object)) return object
    if (object instanceof Map) return new Map()
    if (object instanceof Set) return new Set()
  }
  if (Array.isArray(object)) {
    const out: unknown[] = []
    seen.set(object, out)
    for (let i = 0; i < object.length; i++) {
      const entry = jsonShape(object[i], String(i), depth + 1, seen)
      out.push(entry === OMIT ? null : entry)
    }
    return out
  }
  const out: Record<string, unknown> = {}
  seen.set(object, out)
  for (const name of Object.keys(object)) {
    const entry = jsonShape((object as Record<string, unknown>)[name], name, depth + 1, seen)
    if (entry !== OMIT) out[name] = entry
  }
  return out
}

// -- errors ---------------------------------------------------------------------------------------

export interface SerializedError {
  name: string
  message: string
  stack?: string
  code?: unknown
  statusCode?: unknown
  props?: Record<string, unknown>
  cause?: SerializedError
  /** The value a handler passed to `reply.code()` that made it throw. */
  bs?: unknown
}

/**
 * An Error as data: name, message, stack, `code`, `statusCode`, its own fields as JSON would see
 * them, and its cause. `strict` (a route's answer): a `code` or `statusCode` that cannot cross
 * becomes FST_MPM_NOT_CLONEABLE naming it, rather than an answer that differs from inline;
 * otherwise (log lines) such values are described as text.
 */
export function serializeError (err: Error, strict = true, depth = 0): SerializedError {
  const fields = err as unknown as Record<string | symbol, unknown>
  const out: SerializedError = {
    name: String(err.name),
    message: String(err.message),
    stack: typeof err.stack === 'string' ? err.stack : undefined
  }
  // Own enumerable fields in their order (what an error handler that spreads the error sees),
  // then code and statusCode where they are inherited or hidden (what it reads by name).
  const own = Object.keys(err)
  for (const key of own) {
    if (key === 'stack' || key === 'message') continue
    const value = crossingField(fields[key], key, strict)
    if (value === OMIT) continue
    out.props ??= {}
    out.props[key] = value
  }
  for (const key of ['code', 'statusCode'] as const) {
    if (own.includes(key) || fields[key] === undefined) continue
    const value = crossingField(fields[key], key, strict)
    if (value !== OMIT) out[key] = value
  }
  if (err.cause instanceof Error && depth < 3) out.cause = serializeError(err.cause, false, depth + 1)
  if (fields[kBadStatus] !== undefined) {
    const plain = plainFieldValue(fields[kBadStatus])
    out.bs = plain === OMIT ? String(fields[kBadStatus]) : plain
  }
  return out
}

/**
 * A field as JSON would see it. `code` and `statusCode` decide the answer, so one that cannot
 * cross fails the answer (strict) rather than silently changing it; in log lines it becomes text.
 */
function crossingField (value: unknown, key: string, strict: boolean): unknown {
  const plain = plainFieldValue(value)
  if (plain !== OMIT || (key !== 'code' && key !== 'statusCode')) return plain
  if (strict) throw new FST_MPM_NOT_CLONEABLE(`error property "${key}" is ${describe(value)}`)
  return String(value)
}

export function deserializeError (data: SerializedError): Error {
  const err = new Error(data.message) as Error & Record<string, unknown>
  const hidden = (key: string, value: unknown): void => {
    Object.defineProperty(err, key, { value, enumerable: false, configurable: true, writable: true })
  }
  if (data.props?.name === undefined) hidden('name', data.name)
  if (data.stack !== undefined) err.stack = data.stack
  if (data.code !== undefined) hidden('code', data.code)
  if (data.statusCode !== undefined) hidden('statusCode', data.statusCode)
  if (data.cause !== undefined) hidden('cause', deserializeError(data.cause))
  if (data.props !== undefined) Object.assign(err, data.props)
  return err
}

function describe (value: unknown): string {
  if (typeof value === 'function') return `a function${value.name !== '' ? ` (${value.name})` : ''}`
  return typeof value === 'object' ? 'an object that cannot cross threads' : `a ${typeof value}`
}

/** An error's own field as JSON would see it; OMIT where JSON would drop it or it cannot cross. */
function plainFieldValue (value: unknown): unknown {
  const type = typeof value
  if (type === 'function' || type === 'symbol') return OMIT
  if (value === null || type !== 'object') return value
  if (isCloneSafe(value as object, 0)) return value
  try {
    return jsonShape(value, '', 0, new Map())
  } catch {
    return OMIT
  }
}
