// A pool's threads from birth to removal, as far as tinypool leaves it to us: each new thread is
// watched for an exit of its own (tinypool would leave its task pending forever), a thread that
// ran its last task (maxTasksPerThread, maxThreadMemory) is retired, and what tinypool reports
// about threads that run no task is told apart: a real death is counted and logged, a retired
// thread's late answer is not.

import type Tinypool from 'tinypool'
import { FST_MPM_THREAD_EXITED, FST_MPM_THREAD_RETIRED } from './errors.js'
import type { LoggerLike } from './thread-channels.js'

// tinypool announces new threads nowhere, and starts some on its own (replacing a dead one, then
// handing it a queued task); a thread nobody watches could exit with its task pending forever.
// Node announces every new Worker on `process`, so each live pool looks for its new threads then.
const watchers = new Set<() => void>()
function onWorkerStarted (): void { for (const watch of watchers) watch() }

export interface LifecycleEvents {
  /** A thread died on its own (it exited, or crashed while idle). */
  exited: () => void
  /** A thread retired: after its last task (`memory` false) or past maxThreadMemory. */
  retired: (memory: boolean) => void
}

export class ThreadLifecycle {
  readonly #tp: Tinypool
  readonly #log: LoggerLike
  readonly #on: LifecycleEvents
  readonly #maxTasks: number
  readonly #maxMemory: number
  readonly #watched = new WeakSet<object>()
  readonly #watch = (): void => this.#watchNewThreads()

  constructor (tp: Tinypool, log: LoggerLike, limits: { maxTasksPerThread: number, maxThreadMemory: number }, on: LifecycleEvents) {
    this.#tp = tp
    this.#log = log
    this.#on = on
    this.#maxTasks = limits.maxTasksPerThread
    this.#maxMemory = limits.maxThreadMemory
    // Without an 'error' listener a thread dying while idle would crash the whole process.
    tp.on('error', (err: Error & { code?: string }) => this.#onIdleThreadError(err))
    if (watchers.size === 0) process.on('worker', onWorkerStarted)
    watchers.add(this.#watch)
  }

  /** Removes a thread that ran its last task; tinypool's own error path replaces it. */
  retire (threadId: number, heapUsed?: number): void {
    const thread = this.#tp.threads.find((t) => t.threadId === threadId)
    if (thread === undefined) return
    this.#on.retired(heapUsed !== undefined)
    if (heapUsed !== undefined) {
      this.#log.info({ threadId, heapUsed, maxThreadMemory: this.#maxMemory }, 'fastify-mpm: recycling a thread whose heap passed maxThreadMemory')
    }
    thread.emit('error', new FST_MPM_THREAD_RETIRED(this.#maxTasks))
  }

  /** Stops watching: the pool is closed. */
  stop (): void {
    watchers.delete(this.#watch)
    if (watchers.size === 0) process.off('worker', onWorkerStarted)
  }

  #watchNewThreads (): void {
    const tp = this.#tp
    // A child process's exit fails its task in tinypool itself (process-pool.ts); only threads need watching.
    if (tp.options.runtime === 'child_process') return
    for (const thread of tp.threads) {
      if (this.#watched.has(thread)) continue
      this.#watched.add(thread)
      thread.on('exit', (code: number) => {
        // tinypool removes threads it terminates itself before they exit; one still listed died
        // on its own. Emit now: Node drops the worker's 'error' listeners right after 'exit'.
        // (Safe on Node 20 only because useAtomics is off, so no port is read during its close.)
        if (!tp.threads.includes(thread)) return
        this.#on.exited()
        thread.emit('error', new FST_MPM_THREAD_EXITED(code))
      })
    }
  }

  #onIdleThreadError (err: Error & { code?: string }): void {
    if (err.code === 'FST_MPM_THREAD_RETIRED') return
    // A thread the pool removed (retired, or stopped at a timeout) answered after its tasks were
    // settled: tinypool reports the stray answer here. Nothing died.
    if (err.message.startsWith('Unexpected message from Worker')) {
      this.#log.debug({ err }, 'fastify-mpm: a removed thread answered late; ignored')
      return
    }
    if (err.code !== 'FST_MPM_THREAD_EXITED') this.#on.exited()
    this.#log.error({ err }, 'fastify-mpm: an idle thread died and was replaced')
  }
}
