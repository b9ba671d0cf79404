// Short tasks handed to one thread together. Waking a thread whose event loop sleeps costs the
// main thread a system call and a cross-CPU wake-up, about 20 µs on a VM (bench/FINDINGS.md):
// more than a trivial handler runs, and every pool (tinypool, piscina) pays it once per task.
// When tasks are queued anyway, the pool hands a free thread the next few short ones in one
// message. The thread still runs them one at a time, in order, and answers each as it finishes,
// so a handler sees nothing new. Only routes whose recent run time is short join a batch, a batch
// holds about a millisecond of work at most: less than waking a second thread would cost.
//
// Members that have not started are not bound to their thread. Each member claims its cell before
// it starts; the main thread can revoke the cells not yet claimed at any time, and those members
// provably never ran, so they can run elsewhere, still exactly once: when the batch runs late (a
// member overruns the batch's expected work tenfold, or its thread has not started yet; the next
// free thread takes them, batch-runner.ts), and when the batch is cut short (timeout, exit,
// crash, retirement, close).

import type { Deadline } from './deadlines.js'
import { OneShotAbort } from './one-shot-abort.js'

/** A route whose recent run time is at most this (ms) may share a thread's wake-up: above it, the wake-up is a few percent of the task. */
export const SHORT_TASK_MS = 0.5
/** A batch holds at most this much expected work (ms): what its last member may wait behind. */
export const BATCH_WORK_MS = 1
/** And at most this many tasks. */
export const MAX_BATCH = 16

const OPEN = 0
const STARTED = 1
const REVOKED = 2

/**
 * A route's recent run time in its thread, a moving average. Unknown until it has run twice: the
 * first run also loads the route's module.
 */
export class TaskCost {
  #ms = Infinity
  #runs = 0

  record (ms: number): void {
    if (++this.#runs === 1) return
    this.#ms = this.#ms === Infinity ? ms : this.#ms + (ms - this.#ms) / 4
  }

  get ms (): number { return this.#ms }
  get short (): boolean { return this.#ms <= SHORT_TASK_MS }
}

/** Thread side: true if member `index` may start, and marks it started. */
export function claim (cells: Int32Array, index: number): boolean {
  return Atomics.compareExchange(cells, index, OPEN, STARTED) === OPEN
}

/** Main side of one batch: its members in order, their cells, and how far the thread got. */
export class Batch<M extends { task: { id: number } }> {
  /** Names the batch to its thread and in the pool's map: never shared with another batch. */
  readonly key: number
  members: M[]
  readonly cells: Int32Array
  /** The members' expected run time together (ms). */
  readonly work: number
  /** Aborting the batch's tinypool task terminates its thread. */
  readonly abort = new OneShotAbort()
  /** Answers arrive in order, so this also indexes the member running now (or next to). */
  answered = 0
  /** The member whose deadline passed, and how (its handler ran out of time, or never started). */
  timedOut: M | undefined
  timedOutHow: 'handler' | 'start' = 'handler'
  /** One deadline for the batch, moved on to each member as it starts. */
  deadline: Deadline | undefined
  /** When the member running now was handed to the thread (performance.now()). */
  memberSince = 0

  constructor (key: number, members: M[], work: number) {
    this.key = key
    this.members = members
    this.work = work
    this.cells = new Int32Array(new SharedArrayBuffer(4 * members.length))
  }

  get current (): M | undefined { return this.members[this.answered] }

  /** Members after the current one that may not have started yet. */
  get waiting (): number { return Math.max(0, this.members.length - this.answered - 1) }

  /** The member with this task id, while the batch holds it. */
  member (taskId: number): M | undefined {
    for (let j = this.answered; j < this.members.length; j++) if (this.members[j].task.id === taskId) return this.members[j]
    return undefined
  }

  /** The unanswered member that had started, once revokeUnstarted() has run: the one cut short. */
  startedUnanswered (): M | undefined {
    return this.answered < this.members.length && Atomics.load(this.cells, this.answered) === STARTED
      ? this.members[this.answered]
      : undefined
  }

  /** Lets go of the members once the batch is over (see the pool's map of running batches). */
  release (): void { this.members = [] }

  /** Revokes every member that has not started and returns them: none of them can start after this. */
  revokeUnstarted (): M[] { return this.revokeFrom(this.answered) }

  /**
   * Revokes the members from index `from` on that have not started, returns them, and leaves
   * the batch without them. The thread claims in order and stops at the first revoked cell, so
   * what is revoked is always the tail.
   */
  revokeFrom (from: number): M[] {
    let cut = this.members.length
    for (let j = Math.max(from, this.answered); j < this.members.length; j++) {
      if (Atomics.compareExchange(this.cells, j, OPEN, REVOKED) === OPEN) {
        cut = j
        break
      }
    }
    for (let j = cut + 1; j < this.members.length; j++) Atomics.store(this.cells, j, REVOKED)
    const unrun = this.members.slice(cut)
    this.members.length = cut
    return unrun
  }
}
