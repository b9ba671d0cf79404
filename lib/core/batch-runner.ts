// The second way to a thread: short tasks in a batch (batch.ts). The pool (pool.ts) forms a
// batch and hands it here; this module runs it in a thread and answers each member as the thread
// answers it, moves the batch's one deadline on from member to member, hands the unstarted
// members back to the pool as soon as the batch runs late (a member overruns the batch's expected
// work, or its thread has not started it yet), so the next free thread takes them, and, when a
// batch is cut short, fails only the member that was running. Counts, errors and retirement are
// the pool's: a task counts the same alone or in a batch.

import type Tinypool from 'tinypool'
import { performance } from 'node:perf_hooks'
import { Batch } from './batch.js'
import type { Deadlines } from './deadlines.js'
import type { Expiry } from './task-failure.js'
import { TaskKind, type BatchAnswer, type BatchDone, type BatchTask, type RouteTask } from './marshal.js'
import type { TaskClock } from './thread-clock.js'
import type { LoggerLike, ThreadChannels } from './thread-channels.js'
import type { Waiting } from './task-queue.js'
import type { StreamRelay } from './stream-relay.js'

/** A member running this many times the batch's expected work lets the members behind it go elsewhere. */
const OVERRUN_FACTOR = 10
/** …but not sooner than this (ms): timers are no finer, and a GC pause in the thread is not an overrun. */
const OVERRUN_FLOOR_MS = 2


/** What a batch needs of its pool. */
export interface BatchPool {
  readonly tp: Tinypool
  readonly deadlines: Deadlines
  readonly clock: TaskClock
  readonly channels: ThreadChannels | null
  readonly log: LoggerLike
  timeoutOf: (waiting: Waiting) => number
  /** Counts one finished task (completed or failed) and a batched one. */
  countDone: (ok: boolean) => void
  countBatched: (members: number) => void
  /** The pool's error for a task cut short by `failure` (see ThreadPool#explain). */
  explain: (failure: Error, expiry: Expiry | undefined, timeout: number) => Error
  retire: (threadId: number, heapUsed?: number) => void
  /** Puts members that never ran back at the head of the queue, in order, and dispatches. */
  requeue: (members: Waiting[], solo: boolean) => void
  /** The batch has given its thread slot back. */
  ended: () => void
}

export class BatchRunner {
  readonly #pool: BatchPool
  /**
   * Batches running, by key. A Map keeps a deleted entry's value until it is rehashed, and the
   * scavenger then keeps whatever that value reaches alive: a finished batch is released (it
   * lets go of its requests) as it leaves, or every request of every batch survived into the old
   * generation (bench/FINDINGS.md).
   */
  readonly #batches = new Map<number, Batch<Waiting>>()

  /** Where a member's streamed answer goes on (set once the pool has its threads). */
  streams: StreamRelay | undefined

  constructor (pool: BatchPool) { this.#pool = pool }

  /** Terminates batch `key`'s thread: a member's stream stalled and would not stop. */
  kill (key: number): void { this.#batches.get(key)?.abort.abort() }

  /** Runs `members` in one thread as batch `key` (unique per batch); answers each member. */
  run (key: number, members: Waiting[], work: number): void {
    const batch = new Batch(key, members, work)
    this.#batches.set(key, batch)
    this.#run(batch).catch((err: Error) => {
      // Not expected: a fault of this module. Its requests must still be answered.
      this.#pool.log.error({ err }, 'fastify-mpm: a batch failed unexpectedly')
      for (const waiting of batch.members.slice(batch.answered)) waiting.reject(err)
    }).finally(() => {
      this.#batches.delete(key)
      batch.release()
      if (batch.deadline !== undefined) this.#pool.deadlines.remove(batch.deadline)
      this.#pool.ended()
    })
  }

  /** The logger of task `taskId` while its batch `key` runs. */
  logger (key: number, taskId: number): LoggerLike | undefined {
    return this.#batches.get(key)?.member(taskId)?.opts.log
  }

  /** A member's answer, posted by its thread on the thread's channel. */
  onAnswer ({ b: key, a: id, o: outcome }: BatchAnswer): void {
    const batch = this.#batches.get(key)
    const waiting = batch?.current
    if (batch === undefined || waiting?.task.id !== id) return
    batch.answered++
    // A member that answers with a stream is counted when its stream ends (stream-relay.ts), and
    // its route is no short one any more.
    if (outcome.st === 1) waiting.opts.cost?.record(Infinity)
    else {
      if (outcome.d !== undefined) waiting.opts.cost?.record(outcome.d)
      this.#pool.countDone(outcome.ok)
    }
    waiting.resolve(outcome)
    this.#startMember(batch)
  }

  async #run (batch: Batch<Waiting>): Promise<void> {
    const { tp, channels } = this.#pool
    // Each task counts once, in its first batch: one handed back (its queue clock stopped) was counted then.
    let first = 0
    for (const waiting of batch.members) if (waiting.since !== Infinity) first++
    this.#pool.countBatched(first)
    let done: BatchDone | undefined
    let failure: Error | undefined
    try {
      this.#startMember(batch)
      const task: BatchTask = { k: TaskKind.Batch, b: batch.key, t: batch.members.map((waiting) => waiting.task as RouteTask), c: batch.cells }
      done = await tp.run(task, { signal: batch.abort }) as BatchDone
    } catch (err) {
      failure = err as Error
    }
    // Every answer (and log line) the thread posted before it returned or died is on a channel by now.
    if (batch.answered < batch.members.length || this.streams?.streaming(batch.key) === true) channels?.drainAll()
    this.streams?.finishBatch(batch.key, failure)
    const unrun = batch.revokeUnstarted()
    const cut = batch.startedUnanswered()
    if (cut !== undefined) this.#failMember(batch, cut, failure)
    if (done?.x !== undefined) this.#pool.retire(done.x, done.xh)
    // After a failure, each goes alone: one of them may be why (a request that cannot be copied).
    if (unrun.length > 0) this.#pool.requeue(unrun, failure !== undefined)
  }

  /** Moves the batch's deadline on to the member the thread runs now (answers come in order). */
  #startMember (batch: Batch<Waiting>): void {
    const waiting = batch.current
    batch.memberSince = performance.now()
    const wait = waiting === undefined ? 0 : this.#firstDue(batch, this.#pool.timeoutOf(waiting))
    const { deadlines } = this.#pool
    if (wait === Infinity || wait === 0) {
      if (batch.deadline !== undefined) deadlines.remove(batch.deadline)
      batch.deadline = undefined
    } else if (batch.deadline === undefined) {
      batch.deadline = deadlines.add(wait, () => this.#due(batch))
    } else {
      deadlines.restart(batch.deadline, wait)
    }
  }

  /** ms until the member running now must be looked at: it overruns, or its timeout passes. */
  #firstDue (batch: Batch<Waiting>, timeout: number): number {
    const overrun = batch.waiting > 0 ? this.#overrun(batch) : Infinity
    return Math.min(overrun, timeout > 0 ? timeout : Infinity)
  }

  #overrun (batch: Batch<Waiting>): number { return Math.max(OVERRUN_FLOOR_MS, OVERRUN_FACTOR * batch.work) }

  /** The member running now overran, or its timeout may have passed. */
  #due (batch: Batch<Waiting>): void {
    const waiting = batch.current
    if (waiting === undefined) return
    // Its answer may be waiting on the channel; reading it moves the deadline on.
    this.#pool.channels?.drainAll()
    if (batch.current !== waiting) return
    const { deadlines, clock } = this.#pool
    const elapsed = performance.now() - batch.memberSince
    if (batch.waiting > 0 && elapsed >= this.#overrun(batch)) {
      // The members behind it (and it, if its thread has not started it yet) can run elsewhere.
      const unrun = batch.revokeFrom(batch.answered)
      if (unrun.length > 0) this.#pool.requeue(unrun, false)
      if (batch.current === undefined) return
    }
    const timeout = this.#pool.timeoutOf(waiting)
    if (timeout <= 0) return
    const left = clock.remaining(waiting.task.id, batch.memberSince, timeout)
    if (left > 0) {
      deadlines.restart(batch.deadline as NonNullable<typeof batch.deadline>, left)
      return
    }
    batch.timedOut = waiting
    batch.timedOutHow = left === 0 ? 'handler' : 'start'
    // The pool stops the thread; #run settles the member and runs the rest elsewhere.
    batch.abort.abort()
  }

  /** The member that was running when its batch ended without its answer. */
  #failMember (batch: Batch<Waiting>, waiting: Waiting, failure: Error | undefined): void {
    batch.answered++
    const err = failure ?? new Error('the thread ended a batch without answering it')
    const expiry = batch.timedOut === waiting ? batch.timedOutHow : undefined
    waiting.reject(this.#pool.explain(err, expiry, this.#pool.timeoutOf(waiting)))
  }
}

