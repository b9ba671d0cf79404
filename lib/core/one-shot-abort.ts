// The smallest abort the pool needs: a flag and one listener. tinypool and the pool's queue each
// add and remove one listener; an AbortController per task cost ~20 µs of CPU in the dispatch
// benchmark (bench/FINDINGS.md). Used for task timeouts, and by adapters to drop a queued task
// whose client left.

/** What the queue needs of an AbortSignal (an AbortSignal fits too). */
export interface AbortSignalLike {
  readonly aborted: boolean
  addEventListener (type: 'abort', listener: () => void, options?: { once?: boolean }): void
  removeEventListener (type: 'abort', listener: () => void): void
}

export class OneShotAbort implements AbortSignalLike {
  aborted = false
  #listener: (() => void) | undefined

  addEventListener (_type: 'abort', listener: () => void): void { this.#listener = listener }
  removeEventListener (_type: 'abort', _listener: () => void): void { this.#listener = undefined }

  abort (): void {
    this.aborted = true
    const listener = this.#listener
    this.#listener = undefined
    listener?.()
  }
}
