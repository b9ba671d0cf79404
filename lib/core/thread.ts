// Thread entry: tinypool loads this file in every worker thread and calls the default export once
// per task, or per batch of short tasks (batch.ts), which it runs one at a time. It stays free of
// any web framework: it only runs handler modules and reports back. Before each handler it loads
// the route's module (once per thread) and then marks the handler's start (thread-clock.ts), so a
// task's timeout counts the handler, not the thread's boot and the import.

import { getHeapStatistics } from 'node:v8'
import { performance } from 'node:perf_hooks'
import { BroadcastChannel, threadId } from 'node:worker_threads'
import Tinypool, { markMovable } from 'tinypool'
import { invoke } from './invoke.js'
import { claim } from './batch.js'
import { FST_MPM_NOT_CLONEABLE } from './errors.js'
import { importHandlerModule } from './handler-module.js'
import { TaskKind, type BatchAnswer, type BatchDone, type BatchTask, type LogLine, type Outcome, type RouteTask, type StreamMessage, type Task } from './marshal.js'
import { serializeError, ValueKind } from './route-value.js'
import { startMarker, type ClockMemory } from './thread-clock.js'
import { bodyStream, CONTROL_BYTES, pumpStream, startStream, type ReturnedStream } from './thread-stream.js'
import { taskSignal, type TaskSignal } from './task-signal.js'
import { encodeRouteValue } from './route-value.js'

export interface ThreadData {
  /** BroadcastChannel name prefix; each thread posts on `${prefix}:${workerId}`, read only by the main thread. */
  logChannel: string
  /** Retire after this many tasks (0 = never). */
  maxTasks: number
  /** Retire once the heap in use passes this many bytes after a task (0 = never). */
  maxHeap: number
  /** Where this thread marks when each handler starts (thread-clock.ts). */
  clock: ClockMemory
  /** Bytes a returned stream may run ahead of what the main thread has handed to its socket. */
  streamBuffer: number
}

// thread-preload.cts lent tinypool's entry a constant process.memoryUsage; handlers get the real one.
const realMemoryUsage = (globalThis as Record<symbol, unknown>)[Symbol.for('fastify-mpm.memoryUsage')]
if (typeof realMemoryUsage === 'function') process.memoryUsage = realMemoryUsage as typeof process.memoryUsage

const { logChannel, maxTasks, maxHeap, clock, streamBuffer } = Tinypool.workerData as ThreadData
const workerId = (process as unknown as { __tinypool_state__: { workerId: number } }).__tinypool_state__.workerId
const markStarted = startMarker(clock, workerId)
const cancelFlags = new Int32Array(clock.cancel)
/** The running task's `req.signal`, if its handler read it. */
let signal: TaskSignal | undefined
const signalOf = (taskId: number): AbortSignal => (signal = taskSignal(cancelFlags, workerId, taskId)).signal
const cancelled = (taskId: number): boolean => Atomics.load(cancelFlags, workerId) === taskId
/** Modules this thread has loaded: a task of a route whose module is still loading waits for it before its clock starts. */
const loaded = new Set<string>()

// One long-lived channel per thread: log lines leave as they are written, so they survive a
// handler that later times out or kills its thread; batch answers follow their task's lines.
const channel = new BroadcastChannel(`${logChannel}:${workerId}`)
channel.unref()
const post = (line: unknown): void => channel.postMessage(line)

let tasksRun = 0
let retired = false
/** What countTask() says of a thread that goes on: one shared object, not one per task. */
const STAYS: BatchDone = Object.freeze({})

export default async function runTask (task: Task | BatchTask): Promise<Outcome | BatchDone | object> {
  if (task.k === TaskKind.Batch) return await runBatch(task)
  // After its last task the main thread removes this thread; anything handed to it in the
  // meantime is refused unrun, and the pool runs it elsewhere.
  if (retired) {
    if (task.k !== TaskKind.Route || task.mb !== 1) return { ok: false, refused: true, lc: 0 }
    const body = task.r.body as Uint8Array
    return moveOut({ ok: false, vk: ValueKind.Undefined, refused: true, lc: 0, rb: body }, body.buffer as ArrayBuffer)
  }
  if (task.k !== TaskKind.Probe) {
    if (!loaded.has(task.m)) await load(task.m)
    markStarted(task.id)
  }
  if (task.k === TaskKind.Route) return await runRoute(task)
  const { outcome, transfer } = await invoke(task, post, true)
  if (task.k !== TaskKind.Probe) Object.assign(outcome, countTask())
  return moveOut(outcome, transfer)
}

/** A route task alone: its answer is what this returns, or its stream (the head posted first). */
async function runRoute (task: RouteTask): Promise<Outcome | object> {
  const body = task.bs === 1 ? bodyStream(`${logChannel}:in:${task.id}`, task.id, post) : undefined
  if (body !== undefined) task.r.body = body.body
  // A body moved here goes back with the answer (body-move.ts), whatever the handler did with req.body.
  const moved = task.mb === 1 ? task.r.body as Uint8Array : undefined
  const { outcome, transfer, stream, lines } = await invoke(task, linesOf(task), true, signalOf)
  const result = stream === undefined ? outcome : await streamOut(task, outcome, stream, lines as { lines: number })
  endTask(body)
  Object.assign(result, countTask())
  if (moved === undefined || moved.buffer.byteLength === 0) return moveOut(result, transfer)
  result.rb = moved
  return moveOut(result, transfer === undefined || transfer === moved.buffer ? moved.buffer as ArrayBuffer : [transfer, moved.buffer as ArrayBuffer])
}

/** What the task left running that must not outlive it: its signal's watch, its body's channel. */
function endTask (body: { done: () => void } | undefined): void {
  signal?.done()
  signal = undefined
  body?.done()
}

function moveOut (outcome: Outcome, transfer: ArrayBuffer | ArrayBuffer[] | undefined): Outcome | object {
  if (transfer === undefined) return outcome
  // tinypool moves what this wrapper names instead of copying it (a whole-buffer byte result).
  const moved = { [Tinypool.transferableSymbol]: transfer, [Tinypool.valueSymbol]: outcome }
  markMovable(moved)
  return moved
}

/**
 * Runs a batch's members in order, each only if the main thread has not revoked it, and posts
 * each answer on the thread's channel (after its log lines) the moment it is known. A retiring
 * thread stops claiming; the main thread runs what is left elsewhere.
 */
async function runBatch (batch: BatchTask): Promise<BatchDone> {
  let done = STAYS
  for (let j = 0; j < batch.t.length && !retired; j++) {
    if (!claim(batch.c, j)) break
    const member = batch.t[j]
    if (!loaded.has(member.m)) await load(member.m)
    markStarted(member.id)
    const { outcome, stream, lines } = await invoke(member, linesOf(member, batch.b), true, signalOf)
    if (stream === undefined) {
      endTask(undefined)
      done = countTask()
      postAnswer({ b: batch.b, a: member.id, o: outcome })
      continue
    }
    const head = await streamOut(member, outcome, stream, lines as { lines: number }, batch.b)
    endTask(undefined)
    done = countTask()
    // A stream that failed before its first chunk is answered as a thrown error, like any member.
    if (head.st === undefined) postAnswer({ b: batch.b, a: member.id, o: head })
  }
  return done
}

/**
 * Loads a route's module the first time this thread meets it, before the handler's clock starts.
 * Called only then: a loaded module costs the hot path a Set lookup, not an await.
 */
async function load (href: string): Promise<void> {
  // A module that fails to load is not marked: invoke() loads it again and answers the error.
  try {
    await importHandlerModule(href)
    loaded.add(href)
  } catch {}
}

/**
 * Where a route task's log lines go: each names its task, its request (a line written after the
 * task ended, from a timer, still reaches that request's logger) and, in a batch, its batch.
 */
function linesOf (task: RouteTask, batchKey?: number): (line: LogLine) => void {
  const reqId = task.r.id
  return (line) => {
    line.r = reqId
    if (batchKey !== undefined) line.b = batchKey
    channel.postMessage(line)
  }
}

/**
 * Answers with a stream: reads its first chunk (a failure before it is answered as if the
 * handler had thrown it), posts the head, then pumps the rest with backpressure until the stream
 * ends, fails, or the main thread stops it (client gone, no progress). The thread is held until
 * then. Returns the task's final outcome, or for a stream failing before its first chunk, the
 * error's.
 */
async function streamOut (task: RouteTask, head: Outcome, stream: ReturnedStream, lines: { lines: number }, batchKey?: number): Promise<Outcome> {
  const started = performance.now() - (head.d ?? 0)
  let start
  try {
    start = await startStream(stream)
  } catch (err) {
    let encoded
    try {
      encoded = encodeRouteValue(err, true)
    } catch {
      encoded = { v: serializeError(new Error(String(err)), false), vk: ValueKind.Error }
    }
    return { ok: false, v: encoded.v, vk: encoded.vk, ops: head.ops, lc: lines.lines, d: performance.now() - started }
  }
  const control = new SharedArrayBuffer(CONTROL_BYTES)
  const message: StreamMessage = { s: task.id, h: head, w: control }
  if (start.first !== undefined) message.f = start.first
  if (batchKey !== undefined) message.b = batchKey
  channel.postMessage(message)
  const end = await pumpStream(start, new Int32Array(control), streamBuffer, post, task.id, () => cancelled(task.id))
  return { ok: end !== 'errored', vk: ValueKind.Undefined, lc: lines.lines, d: performance.now() - started, st: 1 }
}

/** An answer that cannot be posted must still reach its request, as an error, not end the batch. */
function postAnswer (answer: BatchAnswer): void {
  try {
    channel.postMessage(answer)
  } catch (err) {
    const failure = new FST_MPM_NOT_CLONEABLE(`answer: ${(err as Error)?.message ?? String(err)}`)
    channel.postMessage({ ...answer, o: { ok: false, v: serializeError(failure, false), vk: ValueKind.Error, lc: answer.o.lc } })
  }
}

/** Counts a finished task and says whether this thread retires now (maxTasks, or maxHeap). */
function countTask (): BatchDone {
  if (maxTasks > 0 && ++tasksRun >= maxTasks) {
    retired = true
    return { x: threadId }
  }
  // The figure tinypool's maxMemoryLimitBeforeRecycle reads (this isolate's heapUsed), but acted
  // on through the same retirement as maxTasks: this answer goes out first and the replacement
  // starts as the thread is removed, where tinypool holds the answer until the old thread is gone.
  if (maxHeap > 0) {
    const used = getHeapStatistics().used_heap_size
    if (used > maxHeap) {
      retired = true
      return { x: threadId, xh: used }
    }
  }
  return STAYS
}
