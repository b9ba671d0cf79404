// Child process entry: tinypool's child_process runtime loads this file in every child of a
// process-isolated pool and calls the default export once per task, one at a time. The process
// pool's counterpart of thread.ts, running the same invoke() so a handler sees the same req and
// reply and answers the same way. What thread.ts does through memory shared with the main thread
// (log lines on a BroadcastChannel, the handler-start clock, batch claims) goes over the child's
// IPC channel here, or not at all: a process pool never batches (process-pool.ts).

import { getHeapStatistics } from 'node:v8'
import { importHandlerModule } from './handler-module.js'
import { invoke } from './invoke.js'
import { TaskKind, type LogLine, type Outcome, type RouteTask, type Task } from './marshal.js'
import { serializeError, ValueKind } from './route-value.js'
import { FST_MPM_NOT_CLONEABLE } from './errors.js'
import { PROCESS_ENV, TAG, type ChildMessage, type ProcessConfig } from './process-protocol.js'

// thread-preload.cts lent tinypool's entry a constant process.memoryUsage; handlers get the real one.
const realMemoryUsage = (globalThis as Record<symbol, unknown>)[Symbol.for('fastify-mpm.memoryUsage')]
if (typeof realMemoryUsage === 'function') process.memoryUsage = realMemoryUsage as typeof process.memoryUsage

const { maxTasks, maxHeap } = JSON.parse(process.env[PROCESS_ENV] ?? '{}') as Partial<ProcessConfig>
// A process the handler starts must not take itself for one of ours (the preload reads it).
delete process.env[PROCESS_ENV]

// Bound now: a handler that replaces process.send must not take our log lines with it.
const send = (process.send as (message: ChildMessage) => boolean).bind(process)
const post = (line: LogLine): void => { send({ [TAG]: 'l', l: line }) }

/** Modules this child has loaded: a task of a route met for the first time says so before its handler starts. */
const loaded = new Set<string>()
let tasksRun = 0
let retired = false

export default async function runTask (task: Task): Promise<Outcome> {
  // After its last task the parent removes this child; a task handed to it meanwhile is refused unrun.
  if (retired) return { ok: false, refused: true, vk: ValueKind.Undefined, lc: 0 }
  if (task.k !== TaskKind.Probe && !loaded.has(task.m)) {
    send({ [TAG]: 's', s: task.id, w: 1 })
    await load(task.m)
    send({ [TAG]: 's', s: task.id })
  }
  const { outcome, stream } = await invoke(task, task.k === TaskKind.Route ? linesOf(task) : post, true, neverAborts)
  // Streams cross threads, not processes: a returned one is refused clearly, and let go of.
  if (stream !== undefined) refuseStream(outcome, stream)
  if (task.k !== TaskKind.Probe) Object.assign(outcome, countTask())
  return outcome
}

/** `req.signal` in a child: it never aborts (a child is not told when its client leaves). */
function neverAborts (): AbortSignal { return new AbortController().signal }

function refuseStream (outcome: Outcome, stream: { destroy?: () => void, cancel?: () => Promise<void> }): void {
  try {
    if (typeof stream.destroy === 'function') stream.destroy()
    else void stream.cancel?.().catch(() => {})
  } catch {}
  const err = new FST_MPM_NOT_CLONEABLE('the handler returned a stream, and streams cannot cross processes (isolation: \'process\'): return a Buffer or a string, or run the route in a thread pool')
  outcome.ok = false
  outcome.v = serializeError(err, false)
  outcome.vk = ValueKind.Error
  delete outcome.st
}

async function load (href: string): Promise<void> {
  // A module that fails to load is not marked: invoke() loads it again and answers the error.
  try {
    await importHandlerModule(href)
    loaded.add(href)
  } catch {}
}

/** A route task's log lines name its request, so a line written after the task ended still reaches that request's logger. */
function linesOf (task: RouteTask): (line: LogLine) => void {
  const reqId = task.r.id
  return (line) => {
    line.r = reqId
    post(line)
  }
}

/** Counts a finished task and says whether this child retires now (maxTasks, or maxHeap): `x` names it by pid. */
function countTask (): { x?: number, xh?: number } {
  if (maxTasks !== undefined && maxTasks > 0 && ++tasksRun >= maxTasks) {
    retired = true
    return { x: process.pid }
  }
  if (maxHeap !== undefined && maxHeap > 0) {
    const used = getHeapStatistics().used_heap_size
    if (used > maxHeap) {
      retired = true
      return { x: process.pid, xh: used }
    }
  }
  return {}
}
