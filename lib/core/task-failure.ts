// What a task's failure means for its request, and for the pool's counts. tinypool rejects a
// task with whatever went wrong: its thread's uncaught error, its exit, its termination (a
// timeout, a close, a retirement), or an error raised on the main thread while the task was
// copied to the thread. Each is told apart here, so that a count means that fault: a crash only
// when a thread died, a timeout only when a deadline passed, and a request that cannot be copied
// is the request's fault, not a thread's.

import {
  FST_MPM_CLOSING, FST_MPM_NOT_CLONEABLE, FST_MPM_TASK_TIMEOUT,
  FST_MPM_THREAD_CRASHED, FST_MPM_THREAD_START_TIMEOUT
} from './errors.js'
import type { RouteTask, RunTask } from './marshal.js'
import { START_LIMIT_MS } from './thread-clock.js'

/** How a deadline ended a task: its handler ran out of time, or no thread started it in time. */
export type Expiry = 'handler' | 'start'

/** The error the request gets, and which of the pool's counters it adds to (none: a close). */
export interface Failure { error: Error, count?: 'timedOut' | 'failed' | 'crashed' }

export interface FailureContext {
  /** The task's deadline ended it. */
  expiry: Expiry | undefined
  timeout: number
  /** The pool is closing: threads are being terminated on purpose. */
  closing: boolean
  /** When known, checked for a request that could not be copied to a thread. */
  task?: RouteTask | RunTask
}

/**
 * True when the task was caught by a retiring thread and cannot have run there: refused by it
 * (RETIRED), or handed to it by tinypool after it was removed — tinypool marks a removed thread
 * available again when its last message arrives, and terminating it then fails the task with
 * "Terminating worker thread". A retired thread never runs another task, so it is safe to hand
 * the task to another one.
 */
export function neverRan (err: Error & { code?: string }, timedOut: boolean, closing: boolean): boolean {
  if (err.code === 'FST_MPM_THREAD_RETIRED') return true
  return !timedOut && !closing && err.message === 'Terminating worker thread'
}

export function explainFailure (err: Error & { code?: string }, { expiry, timeout, closing, task }: FailureContext): Failure {
  if (expiry !== undefined) {
    const error = expiry === 'handler' ? new FST_MPM_TASK_TIMEOUT(timeout) : new FST_MPM_THREAD_START_TIMEOUT(Math.max(timeout, START_LIMIT_MS))
    return { error, count: 'timedOut' }
  }
  if (closing && err.message === 'Terminating worker thread') return { error: new FST_MPM_CLOSING() }
  // Raised on the main thread while handing the task over: the request cannot be copied (or is
  // nested too deep to, or a getter in it throws). No thread was involved.
  const copying = copyFailure(err, task)
  if (copying !== undefined) return { error: new FST_MPM_NOT_CLONEABLE(`request: ${copying}`), count: 'failed' }
  if (err.code === 'FST_MPM_THREAD_EXITED' || err.code === 'FST_MPM_PROCESS_CRASHED') return { error: err, count: 'crashed' }
  const crash = new FST_MPM_THREAD_CRASHED(err.message)
  crash.cause = err
  return { error: crash, count: 'crashed' }
}

/**
 * Why the task could not be copied to a thread, if that is what failed. tinypool rejects with
 * whatever the copy threw (a DataCloneError, a stack overflow, or a getter's own error), which a
 * thread's crash can throw too: the task is copied again to tell. Only failures pay this.
 */
function copyFailure (err: Error & { code?: string }, task: RouteTask | RunTask | undefined): string | undefined {
  if (err.name === 'DataCloneError' || (err instanceof RangeError && /call stack/i.test(err.message))) return err.message
  if (task === undefined || err.code === 'FST_MPM_THREAD_EXITED' || err.code === 'FST_MPM_PROCESS_CRASHED') return undefined
  try {
    structuredClone(task)
    return undefined
  } catch (copy) {
    return (copy as Error)?.message ?? String(copy)
  }
}
