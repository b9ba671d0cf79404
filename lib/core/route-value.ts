// What a route handler returns or throws, made fit to cross from its thread to the main thread
// without changing what the framework will send. Structured clone and JSON disagree: clone
// rejects functions and proxies, strips class instances, ignores toJSON(), runs getters (again)
// and cannot rebuild a value nested ~2,000 deep, while JSON.stringify (what Fastify serializes
// with) calls toJSON(), keeps class instances' own fields and drops functions. So a value goes as
// it is where both agree (the common case, checked without copying or running anything), as the
// plain data JSON would see where they do not (each getter and toJSON run once, as inline), and
// as JSON text where it is nested too deep for clone. What failed while reading it (a toJSON or a
// getter that throws) is replayed where the framework would meet it (route-rebuild.ts), so the
// status and headers set before it, the error handler and the schema decide as they do inline.

import { types } from 'node:util'
import { FST_MPM_NOT_CLONEABLE } from './errors.js'
import { serializeError } from './route-error.js'
import { DEFER, rebuildDeferred, rebuildValue, type Deferred, type Entry, type Rebuilt } from './route-rebuild.js'

export { serializeError, deserializeError, type SerializedError } from './route-error.js'

export const enum ValueKind { Undefined = 0, Plain = 1, Buffer = 2, Error = 3, Json = 4, Deferred = 5, Rebuilt = 6 }

export interface EncodedValue {
  v?: unknown
  vk: ValueKind
  /** A whole ArrayBuffer to move rather than copy. */
  transfer?: ArrayBuffer
}

/** Deeper than this, values travel as JSON text: V8 rebuilds clones recursively and gives up near 2,000. */
export const MAX_CLONE_DEPTH = 1000

class TooDeep extends Error {}
export const OMIT = Symbol('omit')

/** `strict`: a failure throws (an error's field is then left out) instead of being deferred. */
export interface ShapeContext { seen: Map<object, unknown>, deferred: boolean, strict: boolean }
export function shapeContext (strict: boolean): ShapeContext { return { seen: new Map(), deferred: false, strict } }

/** `thrown`: the handler threw it, so it reaches the error handler as the object it is, not as JSON. */
export function encodeRouteValue (value: unknown, thrown = false): EncodedValue {
  switch (typeof value) {
    case 'undefined': return { vk: ValueKind.Undefined }
    // Rebuilt on the main thread: the framework treats a function or symbol as inline.
    case 'function': return { v: rebuiltOf(value, 'f'), vk: ValueKind.Rebuilt }
    case 'symbol': return { v: { t: 's', d: value.description } satisfies Rebuilt, vk: ValueKind.Rebuilt }
    case 'object': break
    default: return { v: value, vk: ValueKind.Plain }
  }
  if (value === null) return { v: null, vk: ValueKind.Plain }
  if (value instanceof Error) return { v: serializeError(value), vk: ValueKind.Error }
  const proxy = types.isProxy(value)
  // Buffer.isBuffer() is an instanceof check, true for a Proxy around a Buffer too.
  if (!proxy) {
    if (Buffer.isBuffer(value)) return { v: value, vk: ValueKind.Buffer, transfer: wholeBuffer(value) }
    if (ArrayBuffer.isView(value)) return { v: value, vk: ValueKind.Plain, transfer: wholeBuffer(value) }
    if (isCloneSafe(value, 0)) return { v: value, vk: ValueKind.Plain }
  }
  const stream = streamKind(value)
  if (stream !== null) {
    throw new FST_MPM_NOT_CLONEABLE(`the handler ${thrown ? 'threw' : 'returned'} a stream (${stream}); streams cannot cross threads yet, return a Buffer or a string`)
  }
  // A thrown object reaches the error handler as the object it is (fields read by name, a
  // toJSON() perhaps never called), so it is rebuilt field by field; returned values and
  // built-ins (arrays, dates, boxed values) are what the serializer will see.
  if (thrown && isGeneric(value)) return { v: rebuiltOf(value, 'o'), vk: ValueKind.Rebuilt }
  const ctx = shapeContext(false)
  if (proxy) {
    const failing = failingBuffer(value, ctx)
    if (failing !== undefined) return { v: { t: 'o', e: [failing], dd: 1 } satisfies Rebuilt, vk: ValueKind.Rebuilt }
  }
  let called = false
  let replaced: unknown
  try {
    const toJSON = (value as { toJSON?: unknown }).toJSON
    if (typeof toJSON === 'function' && !isRealDate(value)) { replaced = toJSON.call(value, ''); called = true }
  } catch (err) {
    return { v: deferred('t', err, ctx), vk: ValueKind.Deferred }
  }
  // The framework gets an object whose toJSON() gives what this one gave: whatever it is, the
  // serializer (or a non-JSON content type) treats it as it treats the original.
  if (called) return { v: { t: 'j', r: encodeResult(replaced) } satisfies Rebuilt, vk: ValueKind.Rebuilt }
  const shaped = jsonShape(value, '', 0, ctx, false)
  return { v: shaped, vk: ctx.deferred ? ValueKind.Deferred : ValueKind.Plain }
}

/**
 * Fastify reads `payload.buffer` before serializing; through a Proxy around binary data that
 * read throws, so the framework gets an object whose `buffer` throws the same.
 */
function failingBuffer (value: object, ctx: ShapeContext): Entry | undefined {
  try {
    void (value as { buffer?: unknown }).buffer
  } catch (err) {
    return ['buffer', 0, deferred('g', err, ctx), 1]
  }
  return undefined
}

/** A Date crosses as it is and JSON calls its toJSON() on the main thread; a Proxy around one does not cross. */
function isRealDate (value: object): boolean {
  return value instanceof Date && !types.isProxy(value)
}

/** What a toJSON() returned, to be returned again by its stand-in on the main thread. */
function encodeResult (result: unknown): EncodedValue {
  switch (typeof result) {
    case 'undefined': return { vk: ValueKind.Undefined }
    case 'function': return { v: rebuiltOf(result, 'f'), vk: ValueKind.Rebuilt }
    case 'symbol': return { v: { t: 's', d: result.description } satisfies Rebuilt, vk: ValueKind.Rebuilt }
    case 'object': break
    default: return { v: result, vk: ValueKind.Plain }
  }
  const ctx = shapeContext(false)
  const shaped = jsonShape(result, '', 0, ctx, true)
  return { v: shaped, vk: ctx.deferred ? ValueKind.Deferred : ValueKind.Plain }
}

/** A plain object, a class instance or a Proxy: not an array or a built-in the serializer knows. */
function isGeneric (value: object): boolean {
  if (Array.isArray(value)) return false
  if (types.isProxy(value)) return true
  return !(value instanceof Date) && !(value instanceof RegExp) && !types.isBoxedPrimitive(value) &&
    !types.isAnyArrayBuffer(value) && !(value instanceof Map) && !(value instanceof Set)
}

/** Rebuilds on the main thread what encodeRouteValue sent; errors come back as plain Error objects. */
export function decodeRouteValue (encoded: { v?: unknown, vk?: ValueKind }): unknown {
  switch (encoded.vk) {
    case ValueKind.Undefined: return undefined
    case ValueKind.Buffer: {
      const bytes = encoded.v as Uint8Array
      return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    }
    // run() results nested too deep for clone (mpm.ts); route values carry deep parts as markers.
    case ValueKind.Json: return JSON.parse(encoded.v as string)
    case ValueKind.Deferred: return rebuildDeferred(encoded.v)
    case ValueKind.Rebuilt: return rebuildValue(encoded.v as Rebuilt)
    default: return encoded.v
  }
}

/** Moving is only safe when the view owns its whole buffer: small Buffers share Node's pool. */
function wholeBuffer (view: ArrayBufferView): ArrayBuffer | undefined {
  return view.byteOffset === 0 && view.byteLength === view.buffer.byteLength && view.buffer instanceof ArrayBuffer
    ? view.buffer
    : undefined
}

/** What Fastify would stream rather than serialize (and an async iterable), or null. */
function streamKind (value: object): string | null {
  const fields = value as Record<string | symbol, unknown>
  if (typeof fields.pipe === 'function') return 'a Node stream'
  if (typeof fields.getReader === 'function') return 'a web ReadableStream'
  if (Object.prototype.toString.call(value) === '[object Response]') return 'a Response'
  if (typeof fields[Symbol.asyncIterator] === 'function') return 'an async iterable'
  return null
}

/**
 * True when structured clone delivers a value the framework serializes exactly as the original:
 * plain objects and arrays of primitives, dates and binary data, no toJSON, no proxies, no
 * functions, no getters, shallower than MAX_CLONE_DEPTH. A cycle runs into the depth bound and
 * is copied. A field is read through its descriptor, so no getter runs here.
 */
function isCloneSafe (value: object, depth: number): boolean {
  if (depth > MAX_CLONE_DEPTH || types.isProxy(value)) return false
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isSafeEntry(value[i], depth)) return false
    return true
  }
  const proto = Object.getPrototypeOf(value)
  if (proto === Object.prototype || proto === null) {
    for (const key of Object.keys(value)) {
      const field = Object.getOwnPropertyDescriptor(value, key)
      if (field === undefined || field.get !== undefined || !isSafeEntry(field.value, depth)) return false
    }
    return true
  }
  return value instanceof Date || types.isAnyArrayBuffer(value) || (ArrayBuffer.isView(value) && !Buffer.isBuffer(value))
}

function isSafeEntry (entry: unknown, depth: number): boolean {
  const type = typeof entry
  if (type === 'object') return entry === null || isCloneSafe(entry as object, depth + 1)
  return type !== 'function' && type !== 'symbol'
}

/** A failure met while reading a value, kept to be replayed where the framework reads it. */
function deferred (kind: Deferred[typeof DEFER], err: unknown, ctx: ShapeContext): Deferred {
  if (ctx.strict) throw err
  ctx.deferred = true
  const marker: Deferred = { [DEFER]: kind }
  if (err instanceof Error) marker.e = serializeError(err, false)
  else marker.x = jsonShapeOrOmit(err)
  return marker
}

/**
 * The data JSON.stringify would see (ECMA-262 SerializeJSONProperty): toJSON() applied once (not
 * to what it returned), own enumerable fields only, functions and symbols dropped (null inside
 * arrays). Dates, binary data, RegExps and boxed primitives survive clone and serialize the
 * same, so they stay as they are. Cycles are kept, so the framework reports them as inline.
 */
function jsonShape (value: unknown, key: string, depth: number, ctx: ShapeContext, fromToJSON: boolean): unknown {
  if (depth > MAX_CLONE_DEPTH && value !== null && typeof value === 'object') return deepPart(value, key, ctx)
  if (!fromToJSON && value !== null && typeof value === 'object' && !isRealDate(value)) {
    let replaced: unknown
    let called = false
    try {
      const toJSON = (value as { toJSON?: unknown }).toJSON
      if (typeof toJSON === 'function') { replaced = toJSON.call(value, key); called = true }
    } catch (err) {
      return deferred('t', err, ctx)
    }
    // Not inlined: the framework gets an object whose toJSON() gives this result, so whoever
    // reads the field rather than serializing it (a schema's string, an error handler) sees an object, as inline.
    if (called) {
      if (ctx.strict) return jsonShape(replaced, key, depth, ctx, true)
      ctx.deferred = true
      return { [DEFER]: 'r', r: encodeResult(replaced) } satisfies Deferred
    }
  }
  const type = typeof value
  if (type === 'function' || type === 'symbol') return OMIT
  if (value === null || type !== 'object') return value
  const object = value as object
  const copied = ctx.seen.get(object)
  if (copied !== undefined) return copied
  if (!types.isProxy(object) && (types.isBoxedPrimitive(object) ? typeof object.valueOf() !== 'symbol'
    // What toJSON() returned is written as an object even when it is a Date or bytes.
    : !fromToJSON && (object instanceof Date || object instanceof RegExp || types.isAnyArrayBuffer(object) ||
      (ArrayBuffer.isView(object) && !Buffer.isBuffer(object))))) return object
  // A Map or Set is written `{}` by JSON; an empty one crosses and still reads as a Map or Set.
  if (!types.isProxy(object) && (object instanceof Map || object instanceof Set) && Object.keys(object).length === 0) {
    return object instanceof Map ? new Map() : new Set()
  }
  if (Array.isArray(object)) {
    const out: unknown[] = []
    ctx.seen.set(object, out)
    for (let i = 0; i < object.length; i++) {
      let entry: unknown
      try { entry = object[i] } catch (err) { out.push(deferred('g', err, ctx)); continue }
      entry = jsonShape(entry, String(i), depth + 1, ctx, false)
      out.push(entry === OMIT ? null : entry)
    }
    return out
  }
  const out: Record<string, unknown> = {}
  ctx.seen.set(object, out)
  for (const name of Object.keys(object)) {
    let entry: unknown
    try { entry = (object as Record<string, unknown>)[name] } catch (err) { defineField(out, name, deferred('g', err, ctx)); continue }
    entry = jsonShape(entry, name, depth + 1, ctx, false)
    if (entry !== OMIT) defineField(out, name, entry)
  }
  return out
}

/**
 * A part nested deeper than clone can rebuild: JSON text, written here (each toJSON and getter
 * in it running once) and parsed back on the main thread, where the framework serializes it
 * again as it would have inline. `JSON.stringify` is given the part under its own key, so a
 * toJSON() there sees the key it would see inline.
 */
function deepPart (value: object, key: string, ctx: ShapeContext): unknown {
  if (ctx.strict) throw new TooDeep()
  let text: string
  try {
    text = JSON.stringify({ [key]: value })
  } catch (err) {
    return deferred('t', err, ctx)
  }
  ctx.deferred = true
  const marker: Deferred = { [DEFER]: 'j', s: text, k: key }
  return marker
}

/** `__proto__` and friends become own fields, as JSON.parse would make them. */
export function defineField (out: Record<string, unknown>, name: string, value: unknown): void {
  if (name === '__proto__') Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true })
  else out[name] = value
}

/** A value as JSON would see it, for an error's field or a log line: OMIT where JSON drops it or reading it fails. */
export function jsonShapeOrOmit (value: unknown): unknown {
  const type = typeof value
  if (type === 'function' || type === 'symbol') return OMIT
  if (value === null || type !== 'object') return value
  if (isCloneSafe(value as object, 0)) return value
  try {
    return jsonShape(value, '', 0, shapeContext(true), false)
  } catch {
    return OMIT
  }
}

/** A field of a route's error: as JSON would see it, failures in it deferred (ctx.deferred says so). */
export function shapeField (value: unknown, ctx: ShapeContext): unknown {
  const type = typeof value
  if (type === 'function' || type === 'symbol') return OMIT
  if (value === null || type !== 'object') return value
  if (isCloneSafe(value as object, 0)) return value
  return jsonShape(value, '', 0, ctx, false)
}

// Fields an error handler reads by name, also when they are inherited or not enumerable.
const READ_BY_NAME = ['message', 'statusCode', 'status', 'code', 'name', 'headers']

/**
 * A function, or a thrown object, as its own fields: rebuilt on the main thread with the same
 * fields in order (functions and symbols as ones of its own), the fields an error handler reads
 * by name, and a toJSON() that gives what this one gave.
 */
function rebuiltOf (value: object, t: 'f' | 'o'): Rebuilt {
  const ctx = shapeContext(false)
  const entries: Entry[] = []
  const fields = value as Record<string, unknown>
  let keys: string[]
  try { keys = Object.keys(value) } catch { keys = [] }
  const add = (key: string, field: unknown, hidden: boolean): void => {
    let entry: Entry
    if (typeof field === 'function') entry = [key, 1]
    else if (typeof field === 'symbol') entry = [key, 2, field.description]
    else entry = [key, 0, shapeField(field, ctx)]
    if (hidden) entry[3] = 1
    entries.push(entry)
  }
  for (const key of keys) {
    let field: unknown
    try { field = fields[key] } catch (err) { entries.push([key, 0, deferred('g', err, ctx)]); continue }
    add(key, field, false)
  }
  if (t === 'o') {
    for (const key of READ_BY_NAME) {
      if (keys.includes(key)) continue
      try {
        if (key in value && fields[key] !== undefined) add(key, fields[key], true)
      } catch {}
    }
  }
  if (types.isProxy(value) && !keys.includes('buffer')) {
    const failing = failingBuffer(value, ctx)
    if (failing !== undefined) entries.push(failing)
  }
  const out: Rebuilt = { t, e: entries }
  if (ctx.deferred) out.dd = 1
  if (t === 'f') out.d = (value as { name?: string }).name
  try {
    const toJSON = fields.toJSON
    if (typeof toJSON === 'function') out.j = encodeResult(toJSON.call(value, ''))
  } catch (err) {
    out.j = { v: deferred('t', err, shapeContext(false)), vk: ValueKind.Deferred }
  }
  return out
}
