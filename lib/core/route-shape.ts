// The data JSON.stringify would see in a value (ECMA-262 SerializeJSONProperty), taken in the
// thread so that each getter and toJSON() runs once, as when the framework serializes inline;
// what structured clone can carry as it is is recognised without running anything. A failure met
// on the way (a getter or toJSON() that throws), a toJSON() result and a part nested too deep for
// clone are left as markers (route-rebuild.ts) that the main thread turns back into what the
// framework would have met at that place.

import { types } from 'node:util'
import { serializeError } from './route-error.js'
import { DEFER, type Deferred, type Rebuilt } from './route-rebuild.js'
import { rebuiltOf, ValueKind, type EncodedValue } from './route-value.js'

/** Deeper than this, values travel as JSON text: V8 rebuilds clones recursively and gives up near 2,000. */
export const MAX_CLONE_DEPTH = 1000

class TooDeep extends Error {}
export const OMIT = Symbol('omit')

/** `strict`: a failure throws (an error's field is then left out) instead of being deferred. */
export interface ShapeContext { seen: Map<object, unknown>, deferred: boolean, strict: boolean }
export function shapeContext (strict: boolean): ShapeContext { return { seen: new Map(), deferred: false, strict } }

/** A Date crosses as it is and JSON calls its toJSON() on the main thread; a Proxy around one does not cross. */
export function isRealDate (value: object): boolean {
  return value instanceof Date && !types.isProxy(value)
}

/** What a toJSON() returned, to be returned again by its stand-in on the main thread. */
export function encodeResult (result: unknown): EncodedValue {
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

/**
 * True when structured clone delivers a value the framework serializes exactly as the original:
 * plain objects and arrays of primitives, dates and binary data, no toJSON, no proxies, no
 * functions, no getters, shallower than MAX_CLONE_DEPTH. A cycle runs into the depth bound and
 * is copied. A field is read through its descriptor, so no getter runs here.
 */
export function isCloneSafe (value: object, depth: number): boolean {
  if (depth > MAX_CLONE_DEPTH || types.isProxy(value)) return false
  if (Array.isArray(value)) {
    // `in`, not a read: a toJSON() JSON would call, even a non-enumerable one clone would drop.
    if ('toJSON' in value) return false
    for (let i = 0; i < value.length; i++) if (!isSafeEntry(value[i], depth)) return false
    return true
  }
  const proto = Object.getPrototypeOf(value)
  if (proto === Object.prototype || proto === null) {
    if ('toJSON' in value) return false
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
export function deferred (kind: Deferred[typeof DEFER], err: unknown, ctx: ShapeContext): Deferred {
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
export function jsonShape (value: unknown, key: string, depth: number, ctx: ShapeContext, fromToJSON: boolean): unknown {
  if (depth > MAX_CLONE_DEPTH && value !== null && typeof value === 'object') return deepPart(value, key, ctx)
  // A Buffer would arrive as a plain Uint8Array (clone keeps no Buffer): its bytes go, and the
  // main thread makes them a Buffer again, with Buffer's toJSON() and toString().
  if (!fromToJSON && Buffer.isBuffer(value) && !types.isProxy(value) && !ctx.strict) {
    ctx.deferred = true
    return { [DEFER]: 'b', v: value } satisfies Deferred
  }
  // JSON asks functions for a toJSON() too.
  if (!fromToJSON && value !== null && (typeof value === 'object' || typeof value === 'function') && !isRealDate(value as object)) {
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
  if (type === 'function' || type === 'symbol') return standIn(value as symbol | (() => void), ctx)
  if (value === null || type !== 'object') return value
  const object = value as object
  const copied = ctx.seen.get(object)
  if (copied !== undefined) return copied
  // An Error inside a value: JSON writes its own enumerable fields, as it would those of the Error
  // rebuilt from this; what reads it as an Error (`String()` gives "Name: message") sees one.
  if (!fromToJSON && !ctx.strict && object instanceof Error && !types.isProxy(object)) {
    ctx.deferred = true
    const marker: Deferred = { [DEFER]: 'e' }
    ctx.seen.set(object, marker)
    marker.e = serializeError(object, true, 0, ctx)
    return marker
  }
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
  let names: string[]
  try {
    names = Object.keys(object)
  } catch (err) {
    // A Proxy whose ownKeys trap throws: JSON.stringify meets the same there.
    return deferred('t', err, ctx)
  }
  const out: Record<string, unknown> = {}
  ctx.seen.set(object, out)
  for (const name of names) {
    let entry: unknown
    try { entry = (object as Record<string, unknown>)[name] } catch (err) { defineField(out, name, deferred('g', err, ctx)); continue }
    entry = typeof entry === 'function' && (name === 'toString' || name === 'valueOf')
      ? conversion(entry as () => unknown, object, ctx)
      : jsonShape(entry, name, depth + 1, ctx, false)
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

/**
 * A function or symbol inside a value: JSON drops it, but a response schema's serializer or an
 * error handler may read it, so one of its own takes its place on the main thread (a function
 * whose toString() gives this one's source). Log lines (strict) just leave it out.
 */
function standIn (value: symbol | (() => void), ctx: ShapeContext): unknown {
  if (ctx.strict) return OMIT
  ctx.deferred = true
  if (typeof value === 'symbol') return { [DEFER]: 'y', d: value.description } satisfies Deferred
  let source: string | undefined
  try { source = Function.prototype.toString.call(value) } catch {}
  return { [DEFER]: 'f', s: source } satisfies Deferred
}

/**
 * An own toString() or valueOf(): what a serializer converting the object to text or a number
 * calls. Called here once, on its object, and its stand-in gives the same primitive (or throws
 * the same), so a response schema's string or number comes out as inline.
 */
function conversion (fn: () => unknown, self: object, ctx: ShapeContext): unknown {
  if (ctx.strict) return OMIT
  const marker = standIn(fn, ctx) as Deferred
  try {
    const result = fn.call(self)
    marker.r = { v: result !== null && (typeof result === 'object' || typeof result === 'function' || typeof result === 'symbol') ? undefined : result, vk: ValueKind.Plain }
  } catch (err) {
    marker.e = err instanceof Error ? serializeError(err, false) : undefined
    marker.x = err instanceof Error ? undefined : jsonShapeOrOmit(err)
  }
  return marker
}

/** A field of a route's error: as JSON would see it, failures in it deferred (ctx.deferred says so). */
export function shapeField (value: unknown, ctx: ShapeContext): unknown {
  const type = typeof value
  if (type === 'function' || type === 'symbol') return standIn(value as symbol | (() => void), ctx)
  if (value === null || type !== 'object') return value
  if (isCloneSafe(value as object, 0)) return value
  return jsonShape(value, '', 0, ctx, false)
}

