// The main thread's side of everything that outlives a handler's return: streamed responses
// (their heads, chunks and ends, arriving on the threads' channels), request bodies streamed in,
// and the requests whose clients leave while their handler runs. One owner for the pool, so the
// dispatch path only registers a running task and learns when its stream's head arrives.
//
// - A head makes a StreamSink (stream-sink.ts) and answers its request with it at once; the
//   thread goes on producing and is held until the stream is over (the pool's slot stays busy).
// - A client that leaves (its response destroyed) is seen by a sweep every SWEEP_MS, not by a
//   listener per request (the pool avoids those: bench/FINDINGS.md): the task's cancel flag is
//   set, so `req.signal` aborts in the thread and a stream stops producing.
// - A stream that moves no byte towards its socket for the task's timeout is ended, its thread
//   told to stop, and terminated if it has not within STOP_GRACE_MS; it counts as a timeout.

import { FST_MPM_STREAM_LOST, FST_MPM_STREAM_TIMEOUT } from './errors.js'
import type { BatchAnswer, Outcome, StreamMessage } from './marshal.js'
import { deserializeError } from './route-value.js'
import { StreamSink } from './stream-sink.js'
import type { BodyFeed } from './body-feed.js'

/** How often running tasks are checked for clients that left, and streams for progress. */
const SWEEP_MS = 50
/** How long a stream told to stop (it stalled) has to end before its thread is terminated. */
const STOP_GRACE_MS = 1000

/** A route task running alone in a thread, as the pool registered it. */
export interface RunningTask {
  /** Answers the request with its stream's head (the outcome's value is the stream). */
  head: (outcome: Outcome) => void
  /** The response: destroyed once the client left. */
  watch: { readonly destroyed: boolean } | undefined
  /** ms without progress after which its stream is ended (0 = never). */
  timeout: number
  /** Terminates its thread (a stalled stream that would not stop). */
  kill: (() => void) | undefined
  headed: boolean
  cancelled: boolean
  stalled: boolean
}

interface OpenStream {
  sink: StreamSink
  /** The batch whose thread produces it, for a batch member's stream. */
  batch: number | undefined
  timeout: number
  /** When it was told to stop for making no progress. */
  stalledAt: number
}

/** What the relay needs of its pool. */
export interface RelayHooks {
  /** Sets task `taskId`'s cancel flag, read by `req.signal` and the stream pump in its thread. */
  cancel: (taskId: number) => void
  /** A batch member's head is its answer (batch-runner.ts). */
  answer: (answer: BatchAnswer) => void
  /** ms a batch member's stream may go without progress. */
  batchTimeout: (key: number) => number
  /** Terminates a batch's thread. */
  killBatch: (key: number) => void
  /** A batch member's stream ended this way (a task alone is counted by the pool). */
  countBatched: (how: 'completed' | 'failed' | 'timedOut') => void
}

export class StreamRelay {
  readonly #hooks: RelayHooks
  readonly #running = new Map<number, RunningTask>()
  readonly #open = new Map<number, OpenStream>()
  readonly #feeds = new Map<number, BodyFeed>()
  #timer: NodeJS.Timeout | undefined

  constructor (hooks: RelayHooks) { this.#hooks = hooks }

  /** A route task now runs alone in a thread. */
  track (taskId: number, task: RunningTask): void {
    this.#running.set(taskId, task)
    this.#arm()
  }

  /** Its body is fed from `feed` as the thread asks for it. */
  feed (taskId: number, feed: BodyFeed): void { this.#feeds.set(taskId, feed) }

  /**
   * The task's thread returned (or died, `failure`): every message it posted has been read, so a
   * stream of it still open was cut short.
   */
  finish (taskId: number, failure?: Error): void {
    this.#running.delete(taskId)
    this.#closeFeed(taskId)
    const open = this.#open.get(taskId)
    if (open !== undefined) this.#lose(taskId, open, failure)
  }

  /** A batch's thread returned or died: the same for its members' streams. */
  finishBatch (key: number, failure?: Error): void {
    for (const [taskId, open] of this.#open) {
      if (open.batch !== key) continue
      this.#closeFeed(taskId)
      this.#lose(taskId, open, failure)
      this.#hooks.countBatched('failed')
    }
  }

  /** True while a member of batch `key` streams (its end may still be on the channel). */
  streaming (key: number): boolean {
    for (const open of this.#open.values()) if (open.batch === key) return true
    return false
  }

  onMessage (message: StreamMessage): void {
    const taskId = message.s
    if (message.h !== undefined) {
      this.#head(message, message.h)
      return
    }
    if (message.p !== undefined) {
      this.#feeds.get(taskId)?.pull(message.p)
      return
    }
    const open = this.#open.get(taskId)
    if (open === undefined) return
    if (message.c !== undefined) {
      open.sink.deliver(message.c)
      return
    }
    this.#open.delete(taskId)
    if (message.x !== undefined) open.sink.fail(deserializeError(message.x))
    else if (message.e === 1) open.sink.end()
    if (open.batch !== undefined) {
      this.#hooks.countBatched(open.stalledAt > 0 ? 'timedOut' : message.x !== undefined ? 'failed' : 'completed')
    }
  }

  #head (message: StreamMessage, outcome: Outcome): void {
    const taskId = message.s
    const sink = new StreamSink(message.w as SharedArrayBuffer)
    if (message.f !== undefined) sink.deliver(message.f)
    const running = message.b === undefined ? this.#running.get(taskId) : undefined
    const timeout = running?.timeout ?? (message.b === undefined ? 0 : this.#hooks.batchTimeout(message.b))
    this.#open.set(taskId, { sink, batch: message.b, timeout, stalledAt: 0 })
    // The client left (or the response failed): the thread stops producing, `req.signal` aborts.
    sink.onAbandon = () => this.#hooks.cancel(taskId)
    outcome.v = sink
    this.#arm()
    if (message.b !== undefined) {
      this.#hooks.answer({ b: message.b, a: taskId, o: outcome })
    } else if (running !== undefined) {
      running.headed = true
      running.head(outcome)
    } else {
      // Nobody waits for it any more (not expected: a task is tracked until its thread returns).
      sink.stop()
    }
  }

  #lose (taskId: number, open: OpenStream, failure: Error | undefined): void {
    this.#open.delete(taskId)
    if (open.sink.over) return
    open.sink.fail(failure ?? new FST_MPM_STREAM_LOST('its thread returned before the end'))
  }

  #closeFeed (taskId: number): void {
    const feed = this.#feeds.get(taskId)
    if (feed === undefined) return
    this.#feeds.delete(taskId)
    feed.close()
  }

  #arm (): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => this.#sweep(), SWEEP_MS).unref()
  }

  #sweep (): void {
    const now = Date.now()
    for (const [taskId, task] of this.#running) {
      // A running handler whose client left: its `req.signal` aborts (a stream is stopped by its sink).
      if (!task.cancelled && !task.headed && task.watch?.destroyed === true) {
        task.cancelled = true
        this.#hooks.cancel(taskId)
      }
    }
    for (const [taskId, open] of this.#open) {
      if (open.stalledAt > 0) {
        if (now - open.stalledAt >= STOP_GRACE_MS) this.#kill(taskId, open)
        continue
      }
      if (open.timeout <= 0 || open.sink.over || now - open.sink.movedAt < open.timeout) continue
      open.stalledAt = now
      const task = this.#running.get(taskId)
      if (task !== undefined) task.stalled = true
      open.sink.stop()
      this.#hooks.cancel(taskId)
      open.sink.fail(new FST_MPM_STREAM_TIMEOUT(open.timeout), true)
    }
    if (this.#running.size === 0 && this.#open.size === 0) {
      clearInterval(this.#timer)
      this.#timer = undefined
    }
  }

  /** A stalled stream whose thread did not stop: terminate the thread. */
  #kill (taskId: number, open: OpenStream): void {
    this.#open.delete(taskId)
    if (open.batch !== undefined) {
      this.#hooks.countBatched('timedOut')
      this.#hooks.killBatch(open.batch)
    } else this.#running.get(taskId)?.kill?.()
  }
}
