// When each task's handler started in a process pool's children: the process pool's counterpart
// of thread-clock.ts, which needs memory shared with the threads that a child process cannot
// share. A task's timeout bounds its handler, not a child's boot, so the clock is told three
// things, none of which costs a task an extra message in the usual case: tinypool hands the task
// to a child that is up and has loaded our entry (its handler starts about then, a pipe's latency
// later); unless the child says it must first load the route's module (the first time it meets
// the route), then it says again when the handler starts. Times are taken here as the news
// arrives, on the main thread's clock: no child's clock is compared with ours.

import { performance } from 'node:perf_hooks'
import { START_LIMIT_MS, type TaskClock } from './thread-clock.js'

export class ProcessClock implements TaskClock {
  /** Task id → when its handler started (performance.now()); absent while a child boots or loads its module. */
  readonly #started = new Map<number, number>()

  /** tinypool handed the task to a child that is up. */
  handed (taskId: number): void { this.#started.set(taskId, performance.now()) }

  /** The child is loading the task's module first (`loading`), or has, and starts its handler now. */
  mark (taskId: number, loading: boolean): void {
    if (loading) this.#started.delete(taskId)
    else this.#started.set(taskId, performance.now())
  }

  /** The task ended: nothing more to ask. */
  forget (taskId: number): void { this.#started.delete(taskId) }

  /** As ThreadClock.remaining(): > 0 wait that long again; 0 the handler ran out its time; -1 it never started in time. */
  remaining (taskId: number, handedAt: number, timeout: number): number {
    const now = performance.now()
    const startedAt = this.#started.get(taskId)
    if (startedAt !== undefined) return Math.max(0, startedAt + timeout - now)
    const limit = Math.max(timeout, START_LIMIT_MS)
    return now - handedAt >= limit ? -1 : Math.min(timeout, handedAt + limit - now)
  }
}
