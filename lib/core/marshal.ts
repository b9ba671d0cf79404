// Everything that crosses the thread boundary, both ways: the task sent to a thread, the outcome
// sent back, and log lines. What a route handler returns or throws has its own module
// (route-value.ts); this one holds the envelopes and the cases around them.

import { types } from 'node:util'
import type { EncodedValue, SerializedError } from './route-value.js'
import { MAX_CLONE_DEPTH, serializeError, deserializeError } from './route-value.js'
import type { ReplyCall, ReplyStart } from './thread-reply.js'

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

export const enum TaskKind { Route = 0, Run = 1, Probe = 2, Batch = 3 }

export interface RouteTask {
  k: TaskKind.Route, m: string, e: string, id: number, lv: number, r: RequestData
  /** The reply as hooks left it before the handler, when they changed it. */
  rs?: ReplyStart
  /** The body travels as JSON text: nested too deep for structured clone. */
  bj?: 1
  /** `params` (1) and `query` (2) have no prototype, as on the main thread. */
  np?: number
  /** The body is streamed in (`body: 'stream'`, thread-stream.ts): `r.body` is unset. */
  bs?: 1
  /** `r.body` is a Buffer whose memory was moved to the thread (body-move.ts): it comes back as `rb`. */
  mb?: 1
  /** The framework would send an object answer as plain JSON.stringify(): the thread may (route-json.ts). */
  sj?: 1
}
export interface RunTask { k: TaskKind.Run, m: string, e: string, id: number, lv: number, p: unknown }
export interface ProbeTask { k: TaskKind.Probe, mods: Array<{ m: string, e: string }> }
export type Task = RouteTask | RunTask | ProbeTask

/** Short route tasks run one after another by one thread (batch.ts); `c` holds each one's claim, `b` names the batch. */
export interface BatchTask { k: TaskKind.Batch, b: number, t: RouteTask[], c: Int32Array }
/** A batch member's outcome (`a`: its task id, `b`: its batch), posted on the thread's channel as soon as it is known. */
export interface BatchAnswer { b: number, a: number, o: Outcome }
/** What a thread returns for a whole batch: only whether it retires (`x`, `xh` as in Outcome). */
export interface BatchDone { x?: number, xh?: number }

/**
 * What a thread sends back for one task: what the handler returned (`ok`) or threw, the reply
 * calls it made, `lc` its log lines; `x` marks a retiring thread.
 */
export interface Outcome extends EncodedValue {
  ok: boolean
  ops?: ReplyCall[]
  lc: number
  /** ms the handler ran, measured in its thread. */
  d?: number
  x?: number
  /** With `x`: the thread retires because its heap in use (this many bytes) passed maxThreadMemory. */
  xh?: number
  /** The thread refused the task without running it (it retired after its last one). */
  refused?: true
  /** The request body that was moved to the thread, moved back (body-move.ts). */
  rb?: Uint8Array
  /**
   * The handler answered with a stream: 1 on the head (posted on the channel, `v` becomes the
   * stream on the main thread), and on the task's final outcome once the stream is over.
   */
  st?: 1
}

/**
 * A stream's messages on its thread's channel, all named by task (`s`): the head (`h`, with the
 * stream's control memory `w`, its first chunk `f` and, in a batch, the batch `b`), then chunks
 * (`c`), then its end (`e`: 1 ended, 2 stopped on request) or its error (`x`). `p`: a streamed-in
 * body's reader has read this many bytes and wants more (-1: it let go of the body).
 */
export interface StreamMessage {
  s: number
  h?: Outcome
  w?: SharedArrayBuffer
  f?: Uint8Array
  b?: number
  c?: Uint8Array
  e?: 1 | 2
  x?: SerializedError
  p?: number
}

/** A streamed-in body's messages, main thread to thread: a chunk, the end, or an error (413…). */
export interface BodyMessage { c?: Uint8Array, e?: 1, x?: SerializedError }

export interface ProbeProblem { index: number, kind: 'load' | 'export', message: string, exports: string[] }

/**
 * One log line: task id, level, pino-style arguments, and `t`, when the thread wrote it (ms since
 * the epoch); `b`, the batch of a batch member, whose logger the main thread finds through it;
 * `r`, the request's id, for a line that arrives after its request's logger was let go.
 */
export interface LogLine { i: number, l: number, t?: number, o?: unknown, m?: string, b?: number, r?: string }

export const LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> =
  { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }

// -- run() results -------------------------------------------------------------------------------

/**
 * Returns a description of the first value structured clone would reject or silently mangle
 * (functions, symbols, class instances whose methods would be lost), or null when all is plain.
 */
export function findUncloneable (value: unknown, path = 'result', seen = new Set<object>(), depth = 0): string | null {
  switch (typeof value) {
    case 'function': return `a function at ${path}${value.name !== '' ? ` (${value.name})` : ''}`
    case 'symbol': return `a symbol at ${path}`
    case 'object': break
    default: return null
  }
  if (value === null || seen.has(value)) return null
  if (types.isProxy(value)) return `a Proxy at ${path}`
  if (depth > MAX_CLONE_DEPTH) return `a value nested deeper than ${MAX_CLONE_DEPTH} levels at ${path.slice(0, 60)}...`
  seen.add(value)
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUncloneable(value[i], `${path}[${i}]`, seen, depth + 1)
      if (found !== null) return found
    }
    return null
  }
  const proto = Object.getPrototypeOf(value)
  if (proto === Object.prototype || proto === null) {
    for (const key of Object.keys(value)) {
      const found = findUncloneable((value as Record<string, unknown>)[key], `${path}.${key}`, seen, depth + 1)
      if (found !== null) return found
    }
    return null
  }
  if (value instanceof Map) {
    for (const [k, v] of value) {
      const found = findUncloneable(k, `${path}<key>`, seen, depth + 1) ?? findUncloneable(v, `${path}.get(${String(k)})`, seen, depth + 1)
      if (found !== null) return found
    }
    return null
  }
  if (value instanceof Set) {
    for (const v of value) {
      const found = findUncloneable(v, `${path}<entry>`, seen, depth + 1)
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

// -- logs -----------------------------------------------------------------------------------------

/** Log arguments the pino way — (obj?, msg?) — reduced to something that can cross threads. */
export function encodeLogArgs (line: LogLine, args: unknown[]): LogLine {
  const [first, second] = args
  if (typeof first === 'string') {
    line.m = first
  } else {
    line.o = first instanceof Error ? { err: serializeError(first, false) } : findUncloneable(first) === null ? first : textOf(first)
    if (typeof second === 'string') line.m = second
  }
  return line
}

/** What a log line shows of a value that cannot cross; never a throw from inside `req.log.info()`. */
function textOf (value: unknown): string {
  try {
    return String(value)
  } catch {
    return Object.prototype.toString.call(value)
  }
}

export function decodeLogArgs (line: LogLine): [unknown, string?] | [string] {
  if (line.o === undefined) return [line.m ?? '']
  const o = line.o as { err?: SerializedError }
  if (o !== null && typeof o === 'object' && o.err !== undefined && typeof o.err === 'object') {
    return [{ ...o, err: deserializeError(o.err) }, line.m]
  }
  return [line.o, line.m]
}
