// `req.signal` in a thread: an AbortSignal that aborts once the main thread sets the task's cancel
// flag (thread-clock.ts) because its client left or its stream stalled. Made only when a handler
// reads it. A handler busy in a synchronous loop never lets an event fire, so `aborted` and
// `throwIfAborted()` read the shared flag themselves: a long computation that checks them stops
// promptly. A handler that awaits is told by an Atomics.waitAsync on the flag, which the thread
// wakes itself when the task ends.

const ABORTED = 'The client went away or the task timed out'

export interface TaskSignal {
  signal: AbortSignal
  /** The task ended: stop watching the flag. */
  done: () => void
}

export function taskSignal (cancel: Int32Array, slot: number, taskId: number): TaskSignal {
  const controller = new AbortController()
  const signal = controller.signal
  let aborted = false
  let finished = false
  const check = (): boolean => {
    if (!aborted && Atomics.load(cancel, slot) === taskId) {
      aborted = true
      controller.abort(new DOMException(ABORTED, 'AbortError'))
    }
    return aborted
  }
  Object.defineProperty(signal, 'aborted', { get: check, configurable: true })
  Object.defineProperty(signal, 'throwIfAborted', {
    value: () => { if (check()) throw signal.reason },
    configurable: true
  })
  const watch = async (): Promise<void> => {
    while (!finished && !check()) {
      const wait = Atomics.waitAsync(cancel, slot, Atomics.load(cancel, slot))
      if (wait.async) await wait.value
    }
  }
  void watch()
  return {
    signal,
    done: () => {
      finished = true
      Atomics.notify(cancel, slot)
    }
  }
}

/** Inline (`threads: 0`): the signal aborts when the response closes before it finished. */
export function inlineSignal (res: { once?: (event: 'close', listener: () => void) => unknown, writableFinished?: boolean } | undefined): AbortSignal {
  const controller = new AbortController()
  res?.once?.('close', () => {
    if (res.writableFinished !== true) controller.abort(new DOMException(ABORTED, 'AbortError'))
  })
  return controller.signal
}
