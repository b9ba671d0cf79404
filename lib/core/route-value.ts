// What a route handler returns or throws, made fit to cross from its thread to the main thread
// without changing what the framework will send. Structured clone and JSON disagree: clone
// rejects functions and proxies, strips class instances, ignores toJSON(), runs getters (again)
// and cannot rebuild a value nested ~2,000 deep, while JSON.stringify (what Fastify serializes
// with) calls toJSON(), keeps class instances' own fields and drops functions. So a value goes as
// it is where both agree (the common case, checked without copying or running anything), and
// otherwise as the data JSON would see (route-shape.ts: each getter and toJSON() run once). What
// the framework would meet on its way through the value (a toJSON() result, a getter or toJSON()
// that throws, a function, a symbol) is rebuilt where it was (route-rebuild.ts), and a thrown
// object field by field, so the status and headers set before, the error handler and the schema
// decide as they do inline. A returned stream is streamed (thread-stream.ts); a stream thrown or
// nested in a value, or a web Response, is refused with a clear error.

import { types } from 'node:util'
import { FST_MPM_NOT_CLONEABLE } from './errors.js'
import { serializeError } from './route-error.js'
import { rebuildDeferred, rebuildValue, type Entry, type Rebuilt } from './route-rebuild.js'
import { deferred, encodeResult, isCloneSafe, isRealDate, jsonShape, shapeContext, shapeField, type ShapeContext } from './route-shape.js'

export { MAX_CLONE_DEPTH, OMIT, defineField, jsonShapeOrOmit, shapeContext, shapeField, type ShapeContext } from './route-shape.js'

export { serializeError, deserializeError, type SerializedError } from './route-error.js'

/** 4 (a whole value as JSON text) is retired: a part too deep for clone now travels as a marker. */
/** Json: the answer as the JSON text the framework would have sent (route-json.ts); the adapter sends it as JSON. */
export const enum ValueKind { Undefined = 0, Plain = 1, Buffer = 2, Error = 3, Deferred = 5, Rebuilt = 6, Stream = 7, Json = 8 }

export interface EncodedValue {
  v?: unknown
  vk: ValueKind
  /** A whole ArrayBuffer to move rather than copy. */
  transfer?: ArrayBuffer
}

/** `thrown`: the handler threw it, so it reaches the error handler as the object it is, not as JSON. */
export function encodeRouteValue (value: unknown, thrown = false): EncodedValue {
  switch (typeof value) {
    case 'undefined': return { vk: ValueKind.Undefined }
    // Rebuilt on the main thread: the framework treats a function or symbol as inline.
    case 'function': return { v: rebuiltOf(value, 'f', thrown), vk: ValueKind.Rebuilt }
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
    // A thrown object is read by name too (a hidden `message`): never sent as clone sees it.
    if (!thrown && isCloneSafe(value, 0)) return { v: value, vk: ValueKind.Plain }
  }
  const stream = streamKind(value)
  if (stream !== null) {
    throw new FST_MPM_NOT_CLONEABLE(`the handler ${thrown ? 'threw' : 'returned'} ${stream}, which cannot cross threads ${thrown ? 'as a thrown value' : 'as it is: return a Node Readable or a web ReadableStream itself'}`)
  }
  // A thrown object reaches the error handler as the object it is (fields read by name, a
  // toJSON() perhaps never called), so it is rebuilt field by field; returned values and
  // built-ins (arrays, dates, boxed values) are what the serializer will see.
  if (thrown && isGeneric(value)) return { v: rebuiltOf(value, 'o', true), vk: ValueKind.Rebuilt }
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

/**
 * A stream that cannot cross as a value: one thrown, or returned inside another value, and a
 * returned web Response (a returned Node or web stream is streamed: thread-stream.ts). An async
 * generator is no stream to Fastify: it serializes it as JSON (`{}`), and so does this side.
 */
function streamKind (value: object): string | null {
  const fields = value as Record<string | symbol, unknown>
  if (typeof fields.pipe === 'function') return 'a Node stream'
  if (typeof fields.getReader === 'function') return 'a web ReadableStream'
  if (Object.prototype.toString.call(value) === '[object Response]') return 'a Response'
  return null
}

function sourceOf (fn: () => void): string | undefined {
  try {
    return Function.prototype.toString.call(fn)
  } catch {
    return undefined
  }
}

// Fields an error handler reads by name, also when they are inherited or not enumerable.
const READ_BY_NAME = ['message', 'statusCode', 'status', 'code', 'name', 'headers']

/**
 * A function, or a thrown object, as its own fields: rebuilt on the main thread with the same
 * fields in order (functions and symbols as ones of its own), the fields an error handler reads
 * by name (when thrown), and a toJSON() that gives what this one gave.
 */
export function rebuiltOf (value: object, t: 'f' | 'o', thrown = false): Rebuilt {
  const ctx = shapeContext(false)
  const entries: Entry[] = []
  const fields = value as Record<string, unknown>
  let keys: string[]
  try { keys = Object.keys(value) } catch { keys = [] }
  const add = (key: string, field: unknown, hidden: boolean): void => {
    let entry: Entry
    if (typeof field === 'function') entry = [key, 1, sourceOf(field as () => void)]
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
  if (thrown) {
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
