// Runs one task's handler and turns whatever happens into an Outcome. Shared by the thread entry
// and by inline mode (`threads: 0`), so both behave the same apart from where they run.

import { performance } from 'node:perf_hooks'
import { findUncloneable, TaskKind, type Outcome, type ProbeProblem, type ProbeTask, type RequestData, type RouteTask, type Task } from './marshal.js'
import { encodeRouteValue, serializeError, ValueKind, type EncodedValue, type SerializedError } from './route-value.js'
import { TaskContext, ThreadRequest, type LogWriter, type SignalSource } from './thread-request.js'
import { ThreadReply, type ReplyCall } from './thread-reply.js'
import { exportNames, getHandler, importHandlerModule, pickExport } from './handler-module.js'
import { FST_MPM_NOT_CLONEABLE } from './errors.js'
import type { OffloadRequest } from './types.js'
import { isReturnedStream, type ReturnedStream } from './thread-stream.js'
import { jsonAnswer } from './route-json.js'

export type { LogWriter, SignalSource } from './thread-request.js'

export interface Invocation {
  outcome: Outcome
  transfer?: ArrayBuffer
  /** The handler answered with this stream: `outcome` is its head (`vk` Stream, `st` 1). */
  stream?: ReturnedStream
  /** Log lines the task has written so far (a stream's producer goes on writing after the head). */
  lines?: { lines: number }
}

/**
 * Runs the task's handler and reports what it returned or threw, and the reply calls it made.
 * `inThread`: run() results are checked for what structured clone would reject or mangle, since
 * they reach the caller as they are; route answers are always encoded (route-value.ts) so that
 * inline mode (`threads: 0`) answers exactly as a thread does.
 */
export async function invoke (task: Task, write: LogWriter, inThread: boolean, signalOf?: SignalSource): Promise<Invocation> {
  if (task.k === TaskKind.Probe) return { outcome: { ok: true, v: await probe(task), vk: ValueKind.Plain, lc: 0 } }
  const context = new TaskContext(task.id, task.lv, write, signalOf)
  const started = performance.now()
  const reply = task.k === TaskKind.Route ? new ThreadReply(task.rs) : undefined
  let ok = true
  let value: unknown
  try {
    const fn = await getHandler(task.m, task.e)
    if (task.k === TaskKind.Route) {
      const data = task.r
      if (task.np !== undefined) nullPrototypes(data, task.np)
      if (task.bj === 1) data.body = JSON.parse(data.body as string)
      else if (data.body instanceof Uint8Array && !Buffer.isBuffer(data.body)) {
        data.body = Buffer.from(data.body.buffer, data.body.byteOffset, data.body.byteLength)
      }
      value = await fn(new ThreadRequest(data, context) as unknown as OffloadRequest, reply)
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
    return { outcome: { ok, vk: ValueKind.Stream, ops, lc: context.lines, d, st: 1 }, stream: value, lines: context }
  }
  if (ok && reply !== undefined && (task as RouteTask).sj === 1) {
    const text = jsonAnswer(value, reply.getHeader('content-type'))
    if (text !== undefined) return { outcome: { ok, v: text, vk: ValueKind.Json, ops, lc: context.lines, d } }
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
  return { outcome: { ok, v: encoded.v, vk: encoded.vk, ops, lc: context.lines, d }, transfer: encoded.transfer }
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
