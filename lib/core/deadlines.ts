// One timer for every running task's timeout instead of a setTimeout per task: a task adds its
// deadline when it starts and removes it when it settles. The timer is armed for the earliest
// deadline and left armed when tasks settle (clearing and re-arming it per task was a visible
// cost): when it fires with nothing due it re-arms for what is left, or stops. It is unref'd:
// a running task keeps the process alive through its thread, not through this timer.
// With at most maxThreads tasks (or batch members) running, a sweep is a handful of entries.

import { performance } from 'node:perf_hooks'

export interface Deadline { at: number, onExpire: () => void }

function expired (): void {}

export class Deadlines {
  readonly #entries = new Set<Deadline>()
  #timer: NodeJS.Timeout | undefined
  #armedAt = Infinity

  /** Calls `onExpire` once `ms` have passed, unless removed first. */
  add (ms: number, onExpire: () => void): Deadline {
    const deadline = { at: performance.now() + ms, onExpire }
    this.#entries.add(deadline)
    if (deadline.at < this.#armedAt) this.#arm(deadline.at)
    return deadline
  }

  /** Moves a deadline to `ms` from now, watching it again if it had expired. */
  restart (deadline: Deadline, ms: number): void {
    deadline.at = performance.now() + ms
    this.#entries.add(deadline)
    if (deadline.at < this.#armedAt) this.#arm(deadline.at)
  }

  remove (deadline: Deadline): void {
    this.#entries.delete(deadline)
    // A Set keeps a deleted entry until it is rehashed: what the callback reaches (a batch and its
    // requests) must not live on through it.
    deadline.onExpire = expired
  }

  #arm (at: number): void {
    clearTimeout(this.#timer)
    this.#armedAt = at
    // Rounded up: a timer that fires early would find nothing due and have to be armed again.
    this.#timer = setTimeout(() => this.#sweep(), Math.max(1, Math.ceil(at - performance.now())))
    this.#timer.unref()
  }

  #sweep (): void {
    this.#timer = undefined
    this.#armedAt = Infinity
    const now = performance.now()
    let next = Infinity
    for (const deadline of this.#entries) {
      if (deadline.at <= now) {
        this.#entries.delete(deadline)
        deadline.onExpire()
      } else if (deadline.at < next) {
        next = deadline.at
      }
    }
    if (next < Infinity && this.#timer === undefined) this.#arm(next)
  }
}
