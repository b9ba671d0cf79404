// One timer for every running task's timeout instead of a setTimeout per task: a task adds its
// deadline when it starts and removes it when it settles, and the single timer is armed for the
// earliest deadline. With at most maxThreads tasks running, a sweep is a handful of entries.

import { performance } from 'node:perf_hooks'

export interface Deadline { readonly at: number, readonly onExpire: () => void }

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

  remove (deadline: Deadline): void {
    this.#entries.delete(deadline)
    // Nothing left to watch: no timer may keep the process alive (a per-task timer was cleared too).
    if (this.#entries.size === 0 && this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
      this.#armedAt = Infinity
    }
  }

  #arm (at: number): void {
    clearTimeout(this.#timer)
    this.#armedAt = at
    // Rounded up: a timer that fires early would find nothing due and have to be armed again.
    this.#timer = setTimeout(() => this.#sweep(), Math.max(1, Math.ceil(at - performance.now())))
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
