// Everything that crosses the thread boundary, both ways: the task sent to a thread, the outcome
// sent back, thrown errors, and log lines. Structured clone drops custom error properties and
// silently strips class instances down to plain objects, so this module decides what travels.

import { types } from 'node:util'

/** The request as the handler sees it in its thread: plain data only. */
export interface RequestData {
  id: string
  method: string
  url: string
  params: unknown
  query: unknown
  headers: Record<string, string | string[] | undefined>
  body: unknown
  ip: string
  hostname: string
}

export const enum TaskKind { Route = 0, Run = 1, Probe = 2 }

export interface RouteTask { k: TaskKind.Route, m: string, e: string, id: number, lv: number, r: RequestData }
export interface RunTask { k: TaskKind.Run, m: string, e: string, id: number, lv: number, p: unknown }
export interface ProbeTask { k: TaskKind.Probe, mods: Array<{ m: string, e: string }> }
export type Task = RouteTask | RunTask | ProbeTask

export const enum BodyKind { Json = 0, Text = 1, Bytes = 2, Empty = 3 }

export interface SerializedError {
  name: string
  message: string
  stack?: string
  code?: unknown
  statusCode?: unknown
  props?: Record<string, unknown>
}

export type Headers = Record<string, string | number | string[]>

/** What a thread sends back for one task; `lc` counts its log lines, `x` marks a retiring thread. */
export interface Outcome {
  ok: boolean
  b?: unknown
  bk?: BodyKind
  err?: SerializedError
  sc?: number
  h?: Headers
  lc: number
  /** ms the handler ran, measured in its thread. */
  d?: number
  x?: number
  /** The thread refused the task without running it (it retired after its last one). */
  refused?: true
}

export interface ProbeProblem { index: number, kind: 'load' | 'export', message: string, exports: string[] }

/** One log line: task id, level, pino-style arguments, and `t`, when the thread wrote it (ms since the epoch). */
export interface LogLine { i: number, l: number, t?: number, o?: unknown, m?: string }

export const LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> =
  { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }

// -- handler result -------------------------------------------------------------------------------

/** Classifies a handler's return value and, for whole-buffer bytes, names the buffer to move. */
export function encodeBody (value: unknown): { b: unknown, bk: BodyKind, transfer?: ArrayBuffer } {
  if (value === undefined || value === null) return { b: undefined, bk: BodyKind.Empty }
  if (typeof value === 'string') return { b: value, bk: BodyKind.Text }
  if (value instanceof ArrayBuffer) return { b: new Uint8Array(value), bk: BodyKind.Bytes, transfer: value }
  if (value instanceof Uint8Array) {
    // Moving is only safe when the view owns its whole buffer: small Buffers share Node's pool.
    const whole = value.byteOffset === 0 && value.byteLength === value.buffer.byteLength &&
      value.buffer instanceof ArrayBuffer
    return { b: value, bk: BodyKind.Bytes, transfer: whole ? value.buffer as ArrayBuffer : undefined }
  }
  return { b: value, bk: BodyKind.Json }
}

/** Structured clone turns Buffers into Uint8Arrays; give callers a Buffer again without copying. */
export function asBuffer (bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/**
 * Returns a description of the first value structured clone would reject or silently mangle
 * (functions, symbols, class instances whose methods would be lost), or null when all is plain.
 */
export function findUncloneable (value: unknown, path = 'result', seen = new Set<object>()): string | null {
  switch (typeof value) {
    case 'function': return `a function at ${path}${value.name !== '' ? ` (${value.name})` : ''}`
    case 'symbol': return `a symbol at ${path}`
    case 'object': break
    default: return null
  }
  if (value === null || seen.has(value)) return null
  seen.add(value)
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUncloneable(value[i], `${path}[${i}]`, seen)
      if (found !== null) return found
    }
    return null
  }
  const proto = Object.getPrototypeOf(value)
  if (proto === Object.prototype || proto === null) {
    for (const key of Object.keys(value)) {
      const found = findUncloneable((value as Record<string, unknown>)[key], `${path}.${key}`, seen)
      if (found !== null) return found
    }
    return null
  }
  if (value instanceof Map) {
    for (const [k, v] of value) {
      const found = findUncloneable(k, `${path}<key>`, seen) ?? findUncloneable(v, `${path}.get(${String(k)})`, seen)
      if (found !== null) return found
    }
    return null
  }
  if (value instanceof Set) {
    for (const v of value) {
      const found = findUncloneable(v, `${path}<entry>`, seen)
      if (found !== null) return found
    }
    return null
  }
  if (value instanceof Date || value instanceof RegExp || value instanceof Error ||
      types.isAnyArrayBuffer(value) || ArrayBuffer.isView(value) || types.isBoxedPrimitive(value)) {
    return null
  }
  const name = (proto?.constructor?.name as string | undefined) ?? 'anonymous class'
  return `an instance of ${name} at ${path} (its prototype and methods would be lost)`
}

// -- errors ---------------------------------------------------------------------------------------

const BASIC_ERROR_KEYS = new Set(['name', 'message', 'stack', 'code', 'statusCode'])

export function serializeError (thrown: unknown): SerializedError {
  if (!(thrown instanceof Error)) {
    return { name: 'Error', message: typeof thrown === 'string' ? thrown : `Non-error thrown: ${String(thrown)}` }
  }
  const out: SerializedError = { name: thrown.name, message: thrown.message, stack: thrown.stack }
  const { code, statusCode } = thrown as { code?: unknown, statusCode?: unknown }
  if (code !== undefined) out.code = code
  if (statusCode !== undefined) out.statusCode = statusCode
  for (const key of Object.keys(thrown)) {
    const value = (thrown as unknown as Record<string, unknown>)[key]
    if (BASIC_ERROR_KEYS.has(key) || findUncloneable(value) !== null) continue
    out.props ??= {}
    out.props[key] = value
  }
  return out
}

export function deserializeError (data: SerializedError): Error {
  const err = new Error(data.message) as Error & Record<string, unknown>
  Object.defineProperty(err, 'name', { value: data.name, enumerable: false, configurable: true, writable: true })
  if (data.stack !== undefined) err.stack = data.stack
  if (data.code !== undefined) err.code = data.code
  if (data.statusCode !== undefined) err.statusCode = data.statusCode
  if (data.props !== undefined) Object.assign(err, data.props)
  return err
}

// -- logs -----------------------------------------------------------------------------------------

/** Log arguments the pino way — (obj?, msg?) — reduced to something that can cross threads. */
export function encodeLogArgs (line: LogLine, args: unknown[]): LogLine {
  const [first, second] = args
  if (typeof first === 'string') {
    line.m = first
  } else {
    line.o = first instanceof Error ? { err: serializeError(first) } : findUncloneable(first) === null ? first : String(first)
    if (typeof second === 'string') line.m = second
  }
  return line
}

export function decodeLogArgs (line: LogLine): [unknown, string?] | [string] {
  if (line.o === undefined) return [line.m ?? '']
  const o = line.o as { err?: SerializedError }
  if (o !== null && typeof o === 'object' && o.err !== undefined && typeof o.err === 'object') {
    return [{ ...o, err: deserializeError(o.err) }, line.m]
  }
  return [line.o, line.m]
}
