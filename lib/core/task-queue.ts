// Tasks waiting for a thread, first in, first out. A task leaves to run, or unrun: dropped once
// nobody waits for its answer (its client left, or its signal aborted), or answered 503 once it
// has waited queueTimeout. The pool bounds the length (maxQueue) and decides what to take. A task
// handed back unrun (from a batch) goes back to the head and its queue clock stops: it already had
// its turn, and the time it then waited was a thread's, not the queue's.

import { performance } from 'node:perf_hooks'
import type { TaskCost } from './batch.js'
import type { BodySource } from './body-feed.js'
import { FST_MPM_QUEUE_TIMEOUT, FST_MPM_TASK_DROPPED } from './errors.js'
import type { Outcome, RouteTask, RunTask } from './marshal.js'
import type { AbortSignalLike } from './one-shot-abort.js'
import type { LoggerLike } from './thread-channels.js'

export interface TaskOptions {
  /** ms the handler may run; defaults to the pool's taskTimeout; 0 = no limit. */
  timeout?: number
  /** Consulted only while the task waits for a thread: once it aborts, the task is dropped unrun. */
  signal?: AbortSignalLike
  /**
   * The same, polled instead of listened to: once `destroyed` is true (a ServerResponse that
   * closed: the client left), the task is dropped when its turn comes, and by a sweep every
   * DROP_SWEEP_MS while it waits. A listener per queued request made the main thread's garbage
   * collection several times dearer (bench/FINDINGS.md).
   */
  watch?: { readonly destroyed: boolean }
  /** Receives the task's log lines. */
  log?: LoggerLike
  /** The route's recent run time: a short route's queued tasks may share a thread's wake-up (batch.ts). */
  cost?: TaskCost
  /** The request body, streamed to the handler as it reads it (`body: 'stream'`; body-feed.ts). */
  body?: BodySource
}

export interface Waiting {
  task: RouteTask | RunTask
  opts: TaskOptions
  /** performance.now() when it joined the queue; Infinity once it was handed back (it never expires). */
  since: number
  resolve: (outcome: Outcome) => void
  reject: (err: Error) => void
  onAbort?: () => void
  /** Never batched again: it was in a batch that failed (it might be the reason). */
  solo?: true
}

/** How often queued tasks are checked for clients that left (TaskOptions.watch). */
const DROP_SWEEP_MS = 100

export class TaskQueue {
  readonly #items: Waiting[] = []
  readonly #queueTimeout: number
  /** Told whenever a task leaves unrun, so the pool can count it (and see whether it is idle). */
  readonly #left: (why: 'dropped' | 'expired') => void
  #expiryTimer: NodeJS.Timeout | undefined
  #sweepTimer: NodeJS.Timeout | undefined

  constructor (queueTimeout: number, left: (why: 'dropped' | 'expired') => void) {
    this.#queueTimeout = queueTimeout
    this.#left = left
  }

  get length (): number { return this.#items.length }
  peek (): Waiting | undefined { return this.#items[0] }

  add (task: RouteTask | RunTask, opts: TaskOptions): Promise<Outcome> {
    return new Promise((resolve, reject) => {
      const waiting: Waiting = { task, opts, since: performance.now(), resolve, reject }
      this.#items.push(waiting)
      if (this.#expiryTimer === undefined && this.#queueTimeout > 0) this.#armExpiry()
      if (opts.watch !== undefined && this.#sweepTimer === undefined) this.#armSweep()
      this.#listen(waiting)
    })
  }

  /** The head, unless it may not run any more (then it is answered, and undefined returned). */
  take (): Waiting | undefined {
    const waiting = this.#items.shift()
    if (waiting === undefined) return undefined
    this.#unlisten(waiting)
    if (this.#queueTimeout > 0 && performance.now() - waiting.since >= this.#queueTimeout) this.#expire(waiting)
    else if (waiting.opts.watch?.destroyed === true) this.#dropped(waiting)
    else return waiting
    return undefined
  }

  /** Puts tasks that never ran back at the head, in order; their queue clock has stopped. */
  requeue (members: Waiting[], solo: boolean): void {
    this.#items.unshift(...members)
    for (const waiting of members) {
      waiting.since = Infinity
      if (solo) waiting.solo = true
      this.#listen(waiting)
    }
    if (this.#expiryTimer === undefined && this.#queueTimeout > 0) this.#armExpiry()
  }

  /** Drops every task nobody waits for any more. */
  sweep (): void {
    for (const waiting of this.#items.filter((w) => w.opts.watch?.destroyed === true)) this.#remove(waiting)
  }

  /** Answers every waiting task with `err`, and stops the timers. */
  clear (err: () => Error): void {
    for (const waiting of this.#items.splice(0)) {
      this.#unlisten(waiting)
      waiting.reject(err())
    }
    clearTimeout(this.#expiryTimer)
    clearTimeout(this.#sweepTimer)
  }

  #listen (waiting: Waiting): void {
    const { signal } = waiting.opts
    if (signal === undefined) return
    if (signal.aborted) {
      this.#remove(waiting)
      return
    }
    waiting.onAbort ??= () => this.#remove(waiting)
    signal.addEventListener('abort', waiting.onAbort, { once: true })
  }

  #unlisten (waiting: Waiting): void {
    if (waiting.onAbort !== undefined) waiting.opts.signal?.removeEventListener('abort', waiting.onAbort)
  }

  #remove (waiting: Waiting): void {
    const index = this.#items.indexOf(waiting)
    if (index === -1) return
    this.#items.splice(index, 1)
    this.#unlisten(waiting)
    this.#dropped(waiting)
  }

  #dropped (waiting: Waiting): void {
    waiting.reject(new FST_MPM_TASK_DROPPED())
    this.#left('dropped')
  }

  #expire (waiting: Waiting): void {
    waiting.reject(new FST_MPM_QUEUE_TIMEOUT(this.#queueTimeout))
    this.#left('expired')
  }

  /**
   * FIFO, so one timer, set for the oldest task's limit, bounds every wait (HAProxy's
   * `timeout queue`): a backlog cannot stretch a request to (queue ÷ threads + 1) × taskTimeout.
   */
  #armExpiry (): void {
    // Handed-back tasks (no clock) sit at the head; the oldest with a clock is the first after them.
    const head = this.#items.find((waiting) => waiting.since !== Infinity)
    if (head === undefined) return
    const delay = Math.max(0, head.since + this.#queueTimeout - performance.now())
    this.#expiryTimer = setTimeout(() => {
      this.#expiryTimer = undefined
      const now = performance.now()
      for (let i = 0; i < this.#items.length;) {
        const waiting = this.#items[i]
        if (waiting.since === Infinity) { i++; continue }
        if (now - waiting.since < this.#queueTimeout) break
        this.#items.splice(i, 1)
        this.#unlisten(waiting)
        this.#expire(waiting)
      }
      this.#armExpiry()
    }, delay)
    this.#expiryTimer.unref()
  }

  /** Looks for clients that left every DROP_SWEEP_MS while any waiting task could have one. */
  #armSweep (): void {
    this.#sweepTimer = setTimeout(() => {
      this.#sweepTimer = undefined
      this.sweep()
      if (this.#items.some((waiting) => waiting.opts.watch !== undefined)) this.#armSweep()
    }, DROP_SWEEP_MS)
    this.#sweepTimer.unref()
  }
}
