// Runs one task's handler and turns whatever happens into an Outcome. Shared by the thread entry
// and by inline mode (`threads: 0`), so both behave the same apart from where they run.

import { performance } from 'node:perf_hooks'
import {
  encodeLogArgs, findUncloneable, TaskKind,
  type LogLine, type Outcome, type ProbeProblem, type ProbeTask, type RequestData, type RouteTask, type Task
} from './marshal.js'
import { encodeRouteValue, serializeError, ValueKind, type EncodedValue, type SerializedError } from './route-value.js'
import { ThreadReply, type ReplyCall } from './thread-reply.js'
import { exportNames, getHandler, importHandlerModule, pickExport } from './handler-module.js'
import { FST_MPM_NOT_CLONEABLE } from './errors.js'
import type { OffloadLogger, OffloadRequest } from './types.js'
import { isReturnedStream, type ReturnedStream } from './thread-stream.js'
import { jsonAnswer } from './route-json.js'

/** Where a task's log lines go: posted to the main thread, or straight to a logger when inline. */
export type LogWriter = (line: LogLine) => void

const LEVEL_VALUES = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const

function makeLogger (taskId: number, threshold: number, write: LogWriter, counter: { lines: number },
  bindings?: Record<string, unknown>): OffloadLogger {
  const log = { child: (more: Record<string, unknown>) => makeLogger(taskId, threshold, write, counter, { ...bindings, ...more }) } as OffloadLogger
  for (const [name, level] of Object.entries(LEVEL_VALUES)) {
    (log as unknown as Record<string, unknown>)[name] = level < threshold
      ? noop
      : (...args: unknown[]) => {
          if (bindings !== undefined) args = typeof args[0] === 'object' && args[0] !== null ? [{ ...bindings, ...args[0] }, ...args.slice(1)] : [bindings, ...args]
          counter.lines++
          write(encodeLogArgs({ i: taskId, l: level, t: Date.now() }, args))
        }
  }
  return log
}
function noop (): void {}

export interface Invocation {
  outcome: Outcome
  transfer?: ArrayBuffer
  /** The handler answered with this stream: `outcome` is its head (`vk` Stream, `st` 1). */
  stream?: ReturnedStream
  /** Log lines the task has written so far (a stream's producer goes on writing after the head). */
  lines?: { lines: number }
}

/** `req.signal` for a task, made when the handler first reads it. */
export type SignalSource = (taskId: number) => AbortSignal

/**
 * Runs the task's handler and reports what it returned or threw, and the reply calls it made.
 * `inThread`: run() results are checked for what structured clone would reject or mangle, since
 * they reach the caller as they are; route answers are always encoded (route-value.ts) so that
 * inline mode (`threads: 0`) answers exactly as a thread does.
 */
export async function invoke (task: Task, write: LogWriter, inThread: boolean, signalOf?: SignalSource): Promise<Invocation> {
  if (task.k === TaskKind.Probe) return { outcome: { ok: true, v: await probe(task), vk: ValueKind.Plain, lc: 0 } }
  const counter = { lines: 0 }
  const started = performance.now()
  const reply = task.k === TaskKind.Route ? new ThreadReply(task.rs) : undefined
  let ok = true
  let value: unknown
  try {
    const fn = await getHandler(task.m, task.e)
    if (task.k === TaskKind.Route) {
      const req = task.r as RequestData & { log: OffloadLogger }
      if (task.np !== undefined) nullPrototypes(req, task.np)
      if (task.bj === 1) req.body = JSON.parse(req.body as string)
      else if (req.body instanceof Uint8Array && !Buffer.isBuffer(req.body)) {
        req.body = Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength)
      }
      req.log = makeLogger(task.id, task.lv, write, counter)
      if (signalOf !== undefined) lazySignal(req, task.id, signalOf)
      value = await fn(req as OffloadRequest, reply)
    } else {
      value = await fn(task.p)
    }
  } catch (err) {
    ok = false
    value = err
  }
  const d = performance.now() - started
  // Reply calls hold only what can cross (thread-reply.ts encodes each argument as it is given),
  // so they are kept whatever happens to the value: status and headers set before a failure stay,
  // as inline.
  const ops: ReplyCall[] | undefined = reply === undefined || reply.calls.length === 0 ? undefined : reply.calls
  if (ok && reply !== undefined && isReturnedStream(value)) {
    // The stream is read by the caller (the thread pumps it to the main thread; inline, the
    // framework reads it): the head carries what the reply calls set.
    return { outcome: { ok, vk: ValueKind.Stream, ops, lc: counter.lines, d, st: 1 }, stream: value, lines: counter }
  }
  if (ok && reply !== undefined && (task as RouteTask).sj === 1) {
    const text = jsonAnswer(value, reply.getHeader('content-type'))
    if (text !== undefined) return { outcome: { ok, v: text, vk: ValueKind.Json, ops, lc: counter.lines, d } }
  }
  let encoded: EncodedValue
  try {
    if (reply !== undefined) {
      encoded = encodeRouteValue(value, !ok)
    } else {
      encoded = encodeRunValue(value, ok, inThread)
    }
  } catch (err) {
    // What the handler produced cannot be made to cross (a stream, an error's code that is a
    // function): answer that, not a dead thread.
    ok = false
    encoded = { v: describeFailure(err), vk: ValueKind.Error }
  }
  return { outcome: { ok, v: encoded.v, vk: encoded.vk, ops, lc: counter.lines, d }, transfer: encoded.transfer }
}

/** `req.signal`, made on first read: most handlers never look, and an AbortController is not free. */
function lazySignal (req: object, taskId: number, signalOf: SignalSource): void {
  let signal: AbortSignal | undefined
  Object.defineProperty(req, 'signal', { get: () => (signal ??= signalOf(taskId)), enumerable: false, configurable: true })
}

/** Even an error whose own fields throw when read must leave the thread as an answer, not a crash. */
function describeFailure (err: unknown): SerializedError {
  try {
    if (err instanceof Error) return serializeError(err, false)
  } catch {}
  return { name: 'Error', message: 'fastify-mpm: the handler failed with a value that cannot be described' }
}

/** `params` and `query` (bit 1 and 2) had no prototype on the main thread, and clone gave them one. */
function nullPrototypes (req: RequestData, np: number): void {
  if ((np & 1) !== 0 && req.params !== null && typeof req.params === 'object') req.params = Object.assign(Object.create(null), req.params)
  if ((np & 2) !== 0 && req.query !== null && typeof req.query === 'object') req.query = Object.assign(Object.create(null), req.query)
}

function encodeRunValue (value: unknown, ok: boolean, inThread: boolean): EncodedValue {
  if (!ok) {
    if (value instanceof Error) return { v: serializeError(value, false), vk: ValueKind.Error }
    return { v: findUncloneable(value) === null ? value : String(value), vk: ValueKind.Plain }
  }
  if (value === undefined) return { vk: ValueKind.Undefined }
  const problem = inThread ? findUncloneable(value) : null
  if (problem !== null) throw new FST_MPM_NOT_CLONEABLE(problem)
  if (Buffer.isBuffer(value) || (value instanceof Uint8Array && inThread)) {
    const whole = value.byteOffset === 0 && value.byteLength === value.buffer.byteLength && value.buffer instanceof ArrayBuffer
    return { v: value, vk: ValueKind.Buffer, transfer: inThread && whole ? value.buffer as ArrayBuffer : undefined }
  }
  return { v: value, vk: ValueKind.Plain }
}

async function probe (task: ProbeTask): Promise<ProbeProblem[]> {
  const problems: ProbeProblem[] = []
  for (const [index, { m, e }] of task.mods.entries()) {
    try {
      const ns = await importHandlerModule(m)
      if (pickExport(ns, e) === undefined) problems.push({ index, kind: 'export', message: `no exported function "${e}"`, exports: exportNames(ns) })
    } catch (err) {
      problems.push({ index, kind: 'load', message: (err as Error)?.message ?? String(err), exports: [] })
    }
  }
  return problems
}
