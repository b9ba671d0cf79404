// When each thread's handler started, in memory shared with the threads. A task is handed to
// tinypool before its thread may exist: a new thread boots and imports the route's module first,
// which can take longer than the task's timeout. taskTimeout bounds the handler, so the pool's
// deadline, when it fires, asks here when the handler really started and waits on if it started
// late. The threads write one slot each (their tinypool workerId) as a handler starts; the main
// thread reads only when a deadline fires, so the hot path costs two stores in the thread.

import { performance } from 'node:perf_hooks'

/** How long a thread may take to start a task's handler (boot, import the module) before the task fails as such. */
export const START_LIMIT_MS = 10_000

/**
 * What the thread side needs: the shared memory, passed in workerData. `cancel` holds, per slot,
 * the id of a task the main thread wants stopped (its client left, its stream stalled): what
 * `req.signal` reads.
 */
export interface ClockMemory { ids: SharedArrayBuffer, times: SharedArrayBuffer, cancel: SharedArrayBuffer }

/** What a pool's deadline asks of a clock (a thread pool's, or a process pool's: process-clock.ts). */
export interface TaskClock {
  remaining: (taskId: number, handedAt: number, timeout: number) => number
}

/** Main side: one slot per workerId (1..maxThreads). */
export class ThreadClock implements TaskClock {
  readonly memory: ClockMemory
  readonly #ids: Int32Array
  readonly #times: Float64Array
  readonly #cancel: Int32Array

  constructor (slots: number) {
    this.memory = { ids: new SharedArrayBuffer(4 * (slots + 1)), times: new SharedArrayBuffer(8 * (slots + 1)), cancel: new SharedArrayBuffer(4 * (slots + 1)) }
    this.#ids = new Int32Array(this.memory.ids)
    this.#times = new Float64Array(this.memory.times)
    this.#cancel = new Int32Array(this.memory.cancel)
  }

  /** Asks the thread running task `taskId`'s handler (if one does) to stop it: its `req.signal` aborts. */
  cancel (taskId: number): void {
    for (let slot = 1; slot < this.#ids.length; slot++) {
      if (Atomics.load(this.#ids, slot) !== taskId) continue
      Atomics.store(this.#cancel, slot, taskId)
      Atomics.notify(this.#cancel, slot)
      return
    }
  }

  /**
   * How much longer the task may run, for a deadline of `timeout` ms that was armed when the task
   * was handed over (`handedAt`, performance.now()): > 0 wait that long again; 0 its handler has
   * run out its time (or started and ended: nothing to wait for); -1 no thread started its
   * handler within the start limit.
   */
  remaining (taskId: number, handedAt: number, timeout: number): number {
    const now = performance.now()
    for (let slot = 1; slot < this.#ids.length; slot++) {
      if (Atomics.load(this.#ids, slot) !== taskId) continue
      const startedAt = this.#times[slot] - performance.timeOrigin
      return Math.max(0, startedAt + timeout - now)
    }
    const limit = Math.max(timeout, START_LIMIT_MS)
    return now - handedAt >= limit ? -1 : Math.min(timeout, handedAt + limit - now)
  }
}

/** Thread side: marks, for this thread (tinypool's `workerId`), that task `taskId`'s handler starts now. */
export function startMarker (memory: ClockMemory, workerId: number): (taskId: number) => void {
  const ids = new Int32Array(memory.ids)
  const times = new Float64Array(memory.times)
  return (taskId) => {
    // The time first: the main thread reads it only after it sees the id.
    times[workerId] = performance.timeOrigin + performance.now()
    Atomics.store(ids, workerId, taskId)
  }
}
