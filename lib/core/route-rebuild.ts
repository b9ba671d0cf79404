// The main thread's side of what route-value.ts could not send as it was: a returned function or
// symbol, a thrown object that is not plain data, and the failures met while reading a value (a
// toJSON() or a getter that threw). Each is rebuilt as something the framework treats exactly as
// the original: a function or symbol of its own, an object with the same fields in order, and at
// the place of each failure a toJSON() or getter that throws the same error when the framework's
// serializer reaches it, and only then (a response schema may never read that field).

import { deserializeError, type SerializedError } from './route-error.js'
import { decodeRouteValue, type EncodedValue } from './route-value.js'

/** The key marking a failure inside a shaped value. Not a symbol: it must survive clone. */
export const DEFER = '\u0000fastify-mpm.deferred'

/**
 * `t`: a toJSON() that threw; `g`: a getter that threw (`e` an Error, `x` any other thrown
 * value); `j`: a part too deep for clone, as JSON text `s` of `{ [k]: part }`; `r`: an object
 * whose toJSON() gave `r`; `f`: a function (`s` its source); `y`: a symbol (`d` its description);
 * `b`: a Buffer (`v` its bytes); `e`: an Error (`e`).
 */
export interface Deferred { [DEFER]: 't' | 'g' | 'j' | 'r' | 'f' | 'y' | 'b' | 'e', e?: SerializedError, x?: unknown, s?: string, k?: string, r?: EncodedValue, d?: string, v?: Uint8Array }

/** A field: [key, 0, value], [key, 1, source] a function, [key, 2, description] a symbol; [3] = 1: not enumerable. */
export type Entry = [string, 0 | 1 | 2, unknown?, 1?]

/**
 * `f` a function (`d` its name), `o` an object, with their own fields (`dd`: failures deferred in
 * them) and `j` what their toJSON() gave; `s` a symbol (`d` its description); `j` an object
 * whose toJSON() gives `r`.
 */
export interface Rebuilt { t: 'f' | 'o' | 's' | 'j', d?: string, e?: Entry[], dd?: 1, j?: EncodedValue, r?: EncodedValue }

export function rebuildValue (data: Rebuilt): unknown {
  switch (data.t) {
    case 's': return Symbol(data.d)
    case 'j': return { toJSON: resultOf(data.r as EncodedValue) }
    default: {
      const target = data.t === 'f' ? function () {} : {}
      if (data.t === 'f') Object.defineProperty(target, 'name', { value: data.d ?? '', configurable: true })
      const toJSON = data.j === undefined ? undefined : resultOf(data.j)
      for (const entry of data.e ?? []) {
        const value = entry[1] === 1 ? (entry[0] === 'toJSON' && toJSON !== undefined ? toJSON : functionLike(entry[2] as string | undefined)) : entry[1] === 2 ? Symbol(entry[2] as string | undefined) : entry[2]
        if (isMarker(value) && value[DEFER] === 'g') {
          const thrown = thrownOf(value)
          Object.defineProperty(target, entry[0], { get () { throw thrown }, enumerable: entry[3] !== 1, configurable: true })
        } else {
          // Each field rebuilt on its own: a hidden one (read by name) holds failures too.
          const field = data.dd === 1 && entry[1] === 0 ? rebuiltField(value) : value
          Object.defineProperty(target, entry[0], { value: field, enumerable: entry[3] !== 1, writable: true, configurable: true })
        }
      }
      // An inherited toJSON() (a class method): one of its own, not enumerable, so no field is added.
      if (toJSON !== undefined && !Object.hasOwn(target, 'toJSON')) Object.defineProperty(target, 'toJSON', { value: toJSON, writable: true, configurable: true })
      return target
    }
  }
}

/** A field's value with the failures and stand-ins in it put back (a marker as the whole value too). */
function rebuiltField (value: unknown): unknown {
  const box = { v: value }
  rebuildDeferred(box)
  return Object.getOwnPropertyDescriptor(box, 'v')?.value
}

/** A toJSON() giving what the thread's gave, or throwing what it threw. */
function resultOf (encoded: EncodedValue): () => unknown {
  if (isMarker(encoded.v) && encoded.v[DEFER] === 't') {
    const thrown = thrownOf(encoded.v)
    return () => { throw thrown }
  }
  const result = decodeRouteValue(encoded)
  return () => result
}

function thrownOf (marker: Deferred): unknown {
  return marker.e !== undefined ? deserializeError(marker.e) : marker.x
}

function isMarker (value: unknown): value is Deferred {
  return value !== null && typeof value === 'object' && DEFER in value
}

/** Walks a shaped value (only one that holds failures) and puts each failure back where it was met. */
export function rebuildDeferred (root: unknown): unknown {
  if (isMarker(root)) return throwingToJSON(root)
  const seen = new Set<object>()
  const stack: object[] = []
  if (root !== null && (typeof root === 'object' || typeof root === 'function')) stack.push(root as object)
  while (stack.length > 0) {
    const node = stack.pop() as Record<string, unknown>
    if (seen.has(node)) continue
    seen.add(node)
    for (const key of Object.keys(node)) {
      // Through the descriptor: a getter put back here must not run now.
      const value = Object.getOwnPropertyDescriptor(node, key)?.value
      if (isMarker(value)) {
        if (value[DEFER] === 'e') {
          Object.defineProperty(node, key, { value: errorOf(value), enumerable: true, writable: true, configurable: true })
        } else if (value[DEFER] === 'b') {
          const bytes = value.v as Uint8Array
          Object.defineProperty(node, key, { value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), enumerable: true, writable: true, configurable: true })
        } else if (value[DEFER] === 'f' || value[DEFER] === 'y') {
          Object.defineProperty(node, key, { value: standInOf(value), enumerable: true, writable: true, configurable: true })
        } else if (value[DEFER] === 'r') {
          Object.defineProperty(node, key, { value: { toJSON: resultOf(value.r as EncodedValue) }, enumerable: true, writable: true, configurable: true })
        } else if (value[DEFER] === 'j') {
          const part = (JSON.parse(value.s as string) as Record<string, unknown>)[value.k as string]
          Object.defineProperty(node, key, { value: part, enumerable: true, writable: true, configurable: true })
        } else if (value[DEFER] === 't') Object.defineProperty(node, key, { value: throwingToJSON(value), enumerable: true, writable: true, configurable: true })
        else {
          const thrown = thrownOf(value)
          Object.defineProperty(node, key, { get () { throw thrown }, enumerable: true, configurable: true })
        }
      } else if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value)) {
        stack.push(value)
      }
    }
  }
  return root
}

function standInOf (marker: Deferred): unknown {
  if (marker[DEFER] === 'y') return Symbol(marker.d)
  // An own toString()/valueOf() gives (or throws) what the original gave when the thread called it.
  if (marker.r !== undefined || marker.e !== undefined || 'x' in marker) {
    const result = marker.r?.v
    const thrown = marker.r === undefined ? thrownOf(marker) : undefined
    return marker.r !== undefined ? function () { return result } : function () { throw thrown }
  }
  return functionLike(marker.s)
}

/** A function of our own standing in for one that could not cross: its toString() gives the original's source. */
export function functionLike (source: string | undefined): () => void {
  const fn = function () {}
  if (source !== undefined) Object.defineProperty(fn, 'toString', { value: () => source, writable: true, configurable: true })
  return fn
}

// The Error rebuilt from each marker: one marker met twice (a cycle, a shared error) is one Error.
const errors = new WeakMap<Deferred, Error>()

function errorOf (marker: Deferred): Error {
  return errors.get(marker) ?? deserializeError(marker.e as SerializedError, (err) => errors.set(marker, err))
}

function throwingToJSON (marker: Deferred): object {
  const thrown = thrownOf(marker)
  return { toJSON () { throw thrown } }
}
