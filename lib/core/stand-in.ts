// Header and content-type values that cannot cross threads as they are. The framework keeps
// what `reply.header()` / `reply.type()` were given and turns it into text only when it writes the
// head (Node's `String()` to validate it, string concatenation to write it), so an object there
// (a class instance, a Proxy, a WeakMap, `{ valueOf }`) is sent as that text, and one that cannot
// become text (a null-prototype object) fails there. The thread does both conversions itself and
// sends their results; the main thread replays the call with a stand-in object that converts to
// the same text, or fails the same way, when the framework asks. Replaying what the handler did,
// rather than describing what it produced, keeps every framework rule in force.

/** A stand-in's description: text or failure for `String(v)` (s/se) and for `'' + v` (p/pe). */
export interface StandInData { s?: string, se?: string, p?: string, pe?: string, sym?: string }

/** Primitives (not symbols) cross as they are; arrays element by element; anything else as a description. */
export function encodeHeaderValue (value: unknown): unknown {
  const type = typeof value
  if (value === null || (type !== 'object' && type !== 'function' && type !== 'symbol')) return value
  if (Array.isArray(value)) {
    let plain = true
    for (const item of value) if (item !== null && (typeof item === 'object' || typeof item === 'function' || typeof item === 'symbol')) { plain = false; break }
    return plain ? value : value.map(encodeHeaderValue)
  }
  if (type === 'symbol') return { sym: (value as symbol).description ?? '' } satisfies StandInData
  const data: StandInData = {}
  try { data.s = String(value) } catch (err) { data.se = failure(err) }
  try { data.p = '' + (value as string) } catch (err) { data.pe = failure(err) }
  return data
}

function failure (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** Rebuilds on the main thread what encodeHeaderValue sent. */
export function decodeHeaderValue (value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) {
    let plain = true
    for (const item of value) if (item !== null && typeof item === 'object') { plain = false; break }
    return plain ? value : value.map(decodeHeaderValue)
  }
  return standIn(value as StandInData)
}

function standIn (data: StandInData): unknown {
  if (data.sym !== undefined) return Symbol(data.sym)
  const object = {}
  Object.defineProperties(object, {
    toString: { value: () => { if (data.se !== undefined) throw new TypeError(data.se); return data.s } },
    valueOf: { value: () => { if (data.pe !== undefined) throw new TypeError(data.pe); return data.p } }
  })
  return object
}

/** An error's `headers` object, its values encoded like header values; other shapes as they are. */
export function encodeHeaderBag (bag: unknown): unknown {
  if (bag === null || typeof bag !== 'object' || Array.isArray(bag)) return bag
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(bag)) out[key] = encodeHeaderValue((bag as Record<string, unknown>)[key])
  return out
}

export function decodeHeaderBag (bag: unknown): unknown {
  if (bag === null || typeof bag !== 'object' || Array.isArray(bag)) return bag
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(bag)) out[key] = decodeHeaderValue((bag as Record<string, unknown>)[key])
  return out
}
