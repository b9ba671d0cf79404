// The per-process thread pool: tinypool plus what a server needs around it — a bounded queue
// with early 503s (task-queue.ts), per-task timeouts that terminate the thread and count the
// handler's time, not its thread's start (thread-clock.ts), short tasks handed over in batches
// (batch-runner.ts), log lines forwarded to the caller's logger (thread-channels.ts), what a
// failure means (task-failure.ts), threads watched and retired (thread-lifecycle.ts), stats, and
// a drain for graceful close. Free of any web framework: adapters hand it tasks and get Outcomes
// back. This module owns the queue's order (who runs next, who goes in a batch), a task's way to
// a thread alone, and the counts both ways share. With `isolation: 'process'` the same pool runs
// handlers in child processes (process-pool.ts), never in batches. At ~380 lines it is over the usual size:
// stats, slots, drain and close read the same state as dispatch, and splitting them would hand
// that state around.

import Tinypool from 'tinypool'
import { performance } from 'node:perf_hooks'
import { FST_MPM_CLOSING, FST_MPM_QUEUE_FULL } from './errors.js'
import { BATCH_WORK_MS, MAX_BATCH } from './batch.js'
import { BatchRunner, type BatchPool } from './batch-runner.js'
import { Deadlines, type Deadline } from './deadlines.js'
import { invoke } from './invoke.js'
import { TaskKind, type Outcome, type ProbeProblem, type RouteTask, type RunTask } from './marshal.js'
import { OneShotAbort } from './one-shot-abort.js'
import type { ResolvedCoreOptions } from './options.js'
import { TaskQueue, type TaskOptions, type Waiting } from './task-queue.js'
import { ThreadChannels, writeLog, type LoggerLike } from './thread-channels.js'
import { ThreadClock, type TaskClock } from './thread-clock.js'
import { ProcessPool } from './process-pool.js'
import { ThreadLifecycle } from './thread-lifecycle.js'
import { explainFailure, neverRan, type Expiry } from './task-failure.js'
import type { ThreadData } from './thread.js'
import { startTinypool } from './thread-start.js'
import { StreamRelay, type RunningTask } from './stream-relay.js'
import { BodyFeed, limitedBody } from './body-feed.js'
import { movableBody, returnedBody } from './body-move.js'
import { inlineSignal } from './task-signal.js'

export type { LoggerLike } from './thread-channels.js'
export type { TaskOptions } from './task-queue.js'
export type { AbortSignalLike } from './one-shot-abort.js'

export type PoolOptions = Omit<ResolvedCoreOptions, 'retryAfter' | 'closeTimeout' | 'isolation' | 'streamBuffer'> & {
  isolation?: ResolvedCoreOptions['isolation']
  /** Bytes a streamed response (or request body) may run ahead of its reader. Default 1 MiB. */
  streamBuffer?: number
  log: LoggerLike
  /** The binding the framework's request loggers name the request id by (late log lines use it). */
  reqIdLabel?: string
}

export interface PoolStats {
  threads: number
  minThreads: number
  maxThreads: number
  busy: number
  idle: number
  queued: number
  maxQueue: number
  completed: number
  failed: number
  rejected: number
  /** Tasks answered 503 because they waited longer than queueTimeout for a thread; they never ran. */
  queueTimedOut: number
  timedOut: number
  crashed: number
  dropped: number
  recycled: number
  /** threads recycled because their heap passed maxThreadMemory (not counted in `recycled`) */
  recycledMemory: number
  threadExits: number
  /** Tasks handed to a thread together with others (batch.ts); each is also counted as it ends. */
  batched: number
}

/** A thread slot as the scoreboard shows it (Apache: `_` idle, `W` busy, `S` starting, `G` finishing, `.` open). */
export type SlotState = 'idle' | 'busy' | 'starting' | 'finishing' | 'open'

type Counter = 'completed' | 'failed' | 'rejected' | 'queueTimedOut' | 'timedOut' | 'crashed' | 'dropped' | 'recycled' | 'recycledMemory' | 'threadExits' | 'batched'

/** Bytes a stream may run ahead of its reader unless the options say otherwise. */
export const DEFAULT_STREAM_BUFFER = 1024 * 1024
/** Times one task may be handed on from a retiring thread before it fails as it is. */
const MAX_HANDOVERS = 3
let poolSeq = 0

export class ThreadPool {
  readonly options: PoolOptions
  readonly #tp: Tinypool | null
  readonly #log: LoggerLike
  readonly #channels: ThreadChannels | null = null
  readonly #queue: TaskQueue
  readonly #clock: TaskClock
  /** Short tasks may share a thread's wake-up (batch.ts); never across processes. */
  readonly #batching: boolean
  readonly #batches: BatchRunner
  readonly #lifecycle: ThreadLifecycle | null = null
  readonly #streams: StreamRelay | null = null
  readonly #logChannel: string = ''
  readonly #idleWaiters = new Set<() => void>()
  readonly #deadlines = new Deadlines()
  readonly #counts: Record<Counter, number> = {
    completed: 0, failed: 0, rejected: 0, queueTimedOut: 0, timedOut: 0, crashed: 0, dropped: 0, recycled: 0, recycledMemory: 0, threadExits: 0, batched: 0
  }

  #running = 0
  #taskSeq = 0
  #closing = false
  #pumpScheduled = false
  #closed: Promise<void> | undefined

  constructor (options: PoolOptions) {
    this.options = options
    this.#log = options.log
    this.#queue = new TaskQueue(options.queueTimeout, (why) => {
      this.#counts[why === 'dropped' ? 'dropped' : 'queueTimedOut']++
      if (this.#isIdle()) this.#notifyIdle()
    })
    this.#batching = options.isolation !== 'process'
    const threadClock = new ThreadClock(this.#batching ? options.maxThreads : 0)
    this.#clock = threadClock
    this.#batches = new BatchRunner(this.#batchPool())
    if (options.maxThreads === 0) {
      this.#tp = null
      return
    }
    const logChannel = `fastify-mpm:log:${process.pid}:${++poolSeq}`
    this.#logChannel = logChannel
    const { minThreads, maxThreads, idleTimeout, resourceLimits } = options
    if (this.#batching) {
      const streamBuffer = options.streamBuffer ?? DEFAULT_STREAM_BUFFER
      const workerData: ThreadData = { logChannel, maxTasks: options.maxTasksPerThread, maxHeap: options.maxThreadMemory, clock: threadClock.memory, streamBuffer }
      this.#tp = startTinypool({ minThreads, maxThreads, idleTimeout, resourceLimits, workerData })
      // Streams cross threads only (a process pool answers a returned stream with a clear error).
      this.#streams = new StreamRelay({
        cancel: (taskId) => threadClock.cancel(taskId),
        answer: (answer) => this.#batches.onAnswer(answer),
        batchTimeout: () => this.options.taskTimeout,
        killBatch: (key) => this.#batches.kill(key),
        countBatched: (how) => { this.#counts[how]++ }
      })
      this.#batches.streams = this.#streams
    } else {
      const config = { maxTasks: options.maxTasksPerThread, maxHeap: options.maxThreadMemory }
      const children = new ProcessPool({ minThreads, maxThreads, idleTimeout, resourceLimits, config, line: (line) => this.#channels?.receive(line), exited: () => { this.#counts.threadExits++ } })
      this.#tp = children
      this.#clock = children.clock
    }
    this.#lifecycle = new ThreadLifecycle(this.#tp, this.#log, options, {
      exited: () => { this.#counts.threadExits++ },
      retired: (memory) => { this.#counts[memory ? 'recycledMemory' : 'recycled']++ }
    })
    const streams = this.#streams
    this.#channels = new ThreadChannels(logChannel, this.#batching ? maxThreads : 0, this.#log, {
      answer: (answer) => this.#batches.onAnswer(answer),
      logger: (key, taskId) => this.#batches.logger(key, taskId),
      stream: (message) => streams?.onMessage(message)
    }, options.reqIdLabel)
  }

  get closing (): boolean { return this.#closing }

  run (task: RouteTask | RunTask, opts: TaskOptions = {}): Promise<Outcome> {
    if (this.#closing) return Promise.reject(new FST_MPM_CLOSING())
    task.id = ++this.#taskSeq
    task.lv = opts.log === undefined ? Infinity : (opts.log.levelVal ?? 0)
    if (this.#tp === null) return this.#runInline(task, opts)
    const free = this.#running < this.options.maxThreads
    // Short tasks queue even with a thread free (below), unless the queue is full.
    if (free && (!this.#batching || opts.cost?.short !== true || this.#queue.length >= this.options.maxQueue)) return this.#dispatch(task, opts)
    if (!free && this.#queue.length >= this.options.maxQueue) {
      // A full queue first lets go of requests nobody waits for any more.
      this.#queue.sweep()
      if (this.#queue.length >= this.options.maxQueue) {
        this.#counts.rejected++
        return Promise.reject(new FST_MPM_QUEUE_FULL(this.options.maxQueue))
      }
    }
    // A short task waits for the end of this turn of the event loop even with a thread free,
    // so the requests that arrived together share one wake-up (batch.ts).
    if (free) this.#pumpSoon()
    return this.#queue.add(task, opts)
  }

  /** Imports every module in a thread and reports what fails to load or lacks its export. */
  async probe (mods: Array<{ m: string, e: string }>): Promise<ProbeProblem[]> {
    const task = { k: TaskKind.Probe as const, mods }
    if (this.#tp === null) return (await invoke(task, () => {}, false)).outcome.v as ProbeProblem[]
    // A module whose top level exits the thread fails the probe: the thread is watched from birth.
    return ((await this.#tp.run(task)) as Outcome).v as ProbeProblem[]
  }

  stats (): PoolStats {
    const threads = this.#tp?.threads.length ?? 0
    return {
      threads,
      minThreads: this.options.minThreads,
      maxThreads: this.options.maxThreads,
      busy: this.#running,
      idle: Math.max(threads - this.#running, 0),
      queued: this.#queue.length,
      maxQueue: this.options.maxQueue,
      ...this.#counts
    }
  }

  /**
   * One state per thread slot (maxThreads of them), for the status scoreboard. tinypool does not
   * say which thread runs which task, so busy slots are counted, not located: the first `busy`
   * started threads are shown busy. A thread whose event loop has not started yet is 'starting'.
   */
  slots (): SlotState[] {
    const max = this.options.maxThreads
    if (this.#tp === null) return this.#running > 0 ? ['busy'] : ['idle']
    const threads = this.#tp.threads
    let starting = 0
    for (const thread of threads) {
      // tinypool wraps each node:worker_threads Worker; its loop timings are zero until it starts.
      const elu = (thread as { thread?: { performance?: { eventLoopUtilization: () => { idle: number, active: number } } } }).thread?.performance?.eventLoopUtilization()
      if (elu !== undefined && elu.idle === 0 && elu.active === 0) starting++
    }
    const started = threads.length - starting
    const busy = Math.min(this.#running, started)
    const slots: SlotState[] = []
    for (let i = 0; i < max; i++) {
      if (i < busy) slots.push(this.#closing ? 'finishing' : 'busy')
      else if (i < started) slots.push('idle')
      else if (i < threads.length) slots.push('starting')
      else slots.push('open')
    }
    return slots
  }

  /** From now on new tasks are refused (503 FST_MPM_CLOSING); running and queued ones go on. */
  stopAccepting (): void { this.#closing = true }

  /** Stops taking tasks, then waits (up to `timeoutMs`) for running and queued ones; true if all finished. */
  async drain (timeoutMs: number): Promise<boolean> {
    this.stopAccepting()
    if (this.#isIdle()) return true
    let timer: NodeJS.Timeout | undefined
    let done: (() => void) | undefined
    const finished = await Promise.race([
      new Promise<boolean>((resolve) => { done = () => resolve(true); this.#idleWaiters.add(done) }),
      new Promise<boolean>((resolve) => { timer = setTimeout(resolve, timeoutMs, false) })
    ])
    clearTimeout(timer)
    if (done !== undefined) this.#idleWaiters.delete(done)
    return finished
  }

  /** Refuses what is queued, terminates the threads (running tasks fail with 503 FST_MPM_CLOSING). */
  close (): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing = true
      this.#queue.clear(() => new FST_MPM_CLOSING())
      await this.#tp?.destroy()
      this.#channels?.close()
      this.#lifecycle?.stop()
    })()
    return this.#closed
  }

  // -- running tasks ------------------------------------------------------------------------------

  /**
   * A route task alone in a thread. Its request is answered when the thread returns, or earlier,
   * when its handler answers with a stream: then with the stream's head, while the thread goes
   * on producing (stream-relay.ts) and the task holds its slot until the stream is over.
   */
  #dispatch (task: RouteTask | RunTask, opts: TaskOptions): Promise<Outcome> {
    const streams = this.#streams
    if (task.k !== TaskKind.Route || streams === null) return this.#runAlone(task, opts, undefined)
    return new Promise((resolve, reject) => {
      const running: RunningTask = { head: resolve, watch: opts.watch, timeout: opts.timeout ?? this.options.taskTimeout, kill: undefined, headed: false, cancelled: false, stalled: false }
      streams.track(task.id, running)
      if (opts.body !== undefined) {
        task.bs = 1
        streams.feed(task.id, new BodyFeed(`${this.#logChannel}:in:${task.id}`, opts.body, this.options.streamBuffer ?? DEFAULT_STREAM_BUFFER))
      }
      this.#runAlone(task, opts, running).then((outcome) => {
        // Every message the thread posted before it returned (a stream's head, its chunks) is on its channel by now.
        if (outcome.st === 1) this.#channels?.drainAll()
        streams.finish(task.id)
        if (!running.headed) resolve(outcome)
      }, (err: Error) => {
        this.#channels?.drainAll()
        streams.finish(task.id, err)
        if (!running.headed) reject(err)
      })
    })
  }

  async #runAlone (task: RouteTask | RunTask, opts: TaskOptions, running: RunningTask | undefined): Promise<Outcome> {
    const tp = this.#tp as Tinypool
    this.#running++
    if (opts.log !== undefined) this.#channels?.expect(task.id, opts.log)
    const timeout = opts.timeout ?? this.options.taskTimeout
    let deadline: Deadline | undefined
    let expiry: Expiry | undefined
    let abort: OneShotAbort | undefined
    if (timeout > 0) {
      abort = new OneShotAbort()
      const handedAt = performance.now()
      deadline = this.#deadlines.add(timeout, () => {
        // The thread may have started the handler late (booting, importing the module).
        const left = this.#clock.remaining(task.id, handedAt, timeout)
        if (left > 0) return this.#deadlines.restart(deadline as Deadline, left)
        expiry = left === 0 ? 'handler' : 'start'
        // tinypool answers an abort of a running task by terminating its thread and starting another.
        abort?.abort()
      })
    }
    if (running !== undefined) {
      // The handler returned a stream: its time is over; a stream without progress is the relay's to end.
      const head = running.head
      running.head = (outcome) => {
        if (deadline !== undefined) this.#deadlines.remove(deadline)
        head(outcome)
      }
      running.kill = () => {
        expiry = 'handler'
        abort?.abort()
      }
    }
    let handovers = 0
    try {
      for (;;) {
        let outcome: Outcome
        try {
          // A large Buffer body is moved, not copied (body-move.ts); a handover moves it back first.
          const moved = task.k === TaskKind.Route && this.#streams !== null ? movableBody(task) : undefined
          outcome = await tp.run(task, moved === undefined ? (abort === undefined ? undefined : { signal: abort }) : { signal: abort, transferList: [moved] as never })
        } catch (err) {
          if (neverRan(err as Error, expiry !== undefined, this.#closing) && ++handovers <= MAX_HANDOVERS) continue
          this.#settleLogs(task.id, Infinity)
          throw this.#explain(err as Error, expiry, timeout, task)
        }
        if (outcome.refused === true && outcome.rb !== undefined) (task as RouteTask).r.body = returnedBody(outcome)
        if (outcome.refused === true && ++handovers <= MAX_HANDOVERS) continue
        if (outcome.x !== undefined) this.#lifecycle?.retire(outcome.x, outcome.xh)
        // A stream's time is its whole length: such a route never joins a batch of short ones.
        if (outcome.d !== undefined) opts.cost?.record(outcome.st === 1 ? Infinity : outcome.d)
        this.#counts[running?.stalled === true ? 'timedOut' : outcome.ok ? 'completed' : 'failed']++
        this.#settleLogs(task.id, outcome.lc)
        return outcome
      }
    } finally {
      if (deadline !== undefined) this.#deadlines.remove(deadline)
      this.#running--
      this.#pump()
    }
  }

  async #runInline (task: RouteTask | RunTask, opts: TaskOptions): Promise<Outcome> {
    this.#running++
    try {
      if (opts.body !== undefined && task.k === TaskKind.Route) task.r.body = limitedBody(opts.body)
      const { outcome, stream } = await invoke(task, (line) => { if (opts.log !== undefined) writeLog(opts.log, line) }, false, () => inlineSignal(opts.watch as never))
      // Inline, a returned stream is the framework's to read, as any handler's.
      if (stream !== undefined) outcome.v = stream
      this.#counts[outcome.ok ? 'completed' : 'failed']++
      return outcome
    } finally {
      this.#running--
      if (this.#isIdle()) this.#notifyIdle()
    }
  }

  /**
   * Hands queued tasks to free thread slots, a short route's waiting tasks together (about a
   * millisecond of their expected work). A batch that runs late hands its unstarted members back
   * to the head of the queue (batch-runner.ts), where the next free slot takes them.
   */
  #pump (): void {
    const { maxThreads } = this.options
    while (this.#running < maxThreads && this.#queue.length > 0) {
      const first = this.#queue.take()
      if (first === undefined) continue
      const cost = first.opts.cost
      if (!this.#batching || first.solo === true || cost?.short !== true || this.#queue.length === 0) {
        this.#dispatch(first.task, first.opts).then(first.resolve, first.reject)
        continue
      }
      const members = [first]
      let work = cost.ms
      while (members.length < MAX_BATCH && this.#queue.length > 0) {
        const next = this.#queue.peek() as Waiting
        if (next.solo === true || next.opts.cost?.short !== true || work + next.opts.cost.ms > BATCH_WORK_MS) break
        const taken = this.#queue.take()
        if (taken === undefined) continue
        members.push(taken)
        work += next.opts.cost.ms
      }
      if (members.length === 1) {
        this.#dispatch(first.task, first.opts).then(first.resolve, first.reject)
      } else {
        this.#running++
        this.#batches.run(++this.#taskSeq, members, work)
      }
    }
    if (this.#isIdle()) this.#notifyIdle()
  }

  #pumpSoon (): void {
    if (this.#pumpScheduled) return
    this.#pumpScheduled = true
    setImmediate(() => {
      this.#pumpScheduled = false
      this.#pump()
    })
  }

  /** Puts tasks that never ran back at the head of the queue, or refuses them once the pool is closed. */
  #requeue (members: Waiting[], solo: boolean): void {
    if (this.#closed === undefined) this.#queue.requeue(members, solo)
    else for (const waiting of members) waiting.reject(new FST_MPM_CLOSING())
  }

  /** What the batch runner may use of this pool. */
  #batchPool (): BatchPool {
    // Getters: the pool's tinypool and channels are made after the batch runner.
    const pool = this
    return {
      get tp () { return pool.#tp as Tinypool },
      deadlines: this.#deadlines,
      clock: this.#clock,
      get channels () { return pool.#channels },
      log: this.#log,
      timeoutOf: (waiting) => waiting.opts.timeout ?? this.options.taskTimeout,
      countDone: (ok) => { this.#counts[ok ? 'completed' : 'failed']++ },
      countBatched: (members) => { this.#counts.batched += members },
      explain: (err, expiry, timeout) => this.#explain(err, expiry, timeout),
      retire: (threadId, heapUsed) => this.#lifecycle?.retire(threadId, heapUsed),
      requeue: (members, solo) => {
        this.#requeue(members, solo)
        this.#pump()
      },
      ended: () => {
        this.#running--
        this.#pump()
      }
    }
  }

  /** Turns a tinypool rejection into the error the request should see (task-failure.ts), and counts it. */
  #explain (err: Error, expiry: Expiry | undefined, timeout: number, task?: RouteTask | RunTask): Error {
    const { error, count } = explainFailure(err, { expiry, timeout, closing: this.#closing, task })
    if (count !== undefined) this.#counts[count]++
    return error
  }

  #settleLogs (taskId: number, lines: number): void { this.#channels?.settle(taskId, lines) }

  #isIdle (): boolean { return this.#running === 0 && this.#queue.length === 0 }
  #notifyIdle (): void { for (const waiter of this.#idleWaiters) waiter() }
}

