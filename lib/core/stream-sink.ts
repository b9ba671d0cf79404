// The main thread's end of a stream a handler returned in its thread: a Node Readable that the
// framework pipes to the socket like any stream payload. Chunks arrive on the thread's channel
// and wait here until the Readable wants them; each chunk handed on is acknowledged in the
// stream's shared control memory, which is what lets the thread produce more (thread-stream.ts).
// So the socket's own backpressure (the Readable stops wanting) reaches the producer, and what
// is buffered on this side is bounded by the thread's window plus one Readable buffer.

import { Readable } from 'node:stream'
import { ACKED, STOP, WAITING } from './thread-stream.js'

export class StreamSink extends Readable {
  readonly #control: Int32Array
  readonly #queue: Uint8Array[] = []
  #acked = 0
  #wanted = false
  #ending = false
  #over = false
  /** The thread's stream failed: the reader meets the error when it asks past the last chunk, as inline. */
  #failure: Error | undefined
  /** performance-free progress clock: the last time (Date.now()) a chunk moved on towards the socket. */
  movedAt = Date.now()
  /** Called once when the reader lets go before the end (client gone, response failed). */
  onAbandon: (() => void) | undefined
  /** Called before the sink fails with an error from its thread, so the adapter can name the route in the log. */
  beforeError: ((err: Error) => void) | undefined

  constructor (control: SharedArrayBuffer) {
    super({ highWaterMark: 64 * 1024 })
    this.#control = new Int32Array(control)
    // Whoever reads the sink handles its errors; an error with nobody reading must not throw.
    this.on('error', noop)
  }

  /** True once the stream ended, failed or was abandoned: nothing more will move. */
  get over (): boolean { return this.#over }

  deliver (chunk: Uint8Array): void {
    if (this.#over) return
    this.#queue.push(chunk)
    if (this.#wanted) this.#flush()
  }

  /** The thread's stream ended: the Readable ends once the queued chunks are read. */
  end (): void {
    if (this.#over) return
    this.#ending = true
    this.#flush()
  }

  /**
   * The thread's stream failed (or the thread died): the framework destroys the response, or
   * answers the error if no byte went out. The chunks that arrived before the error are read
   * first, as a reader of the stream inline meets its error only when it asks for more.
   * `now`: fail at once (a stream that stalled, whose reader asks for nothing).
   */
  fail (err: Error, now = false): void {
    if (this.#over) return
    if (!now && (this.#queue.length > 0 || this.readableLength > 0)) {
      this.#failure = err
      return
    }
    this.#over = true
    this.beforeError?.(err)
    this.destroy(err)
  }

  /** Asks the thread to stop producing (and destroy its stream), as when the client leaves. */
  stop (): void {
    Atomics.store(this.#control, STOP, 1)
    Atomics.notify(this.#control, ACKED)
  }

  override _read (): void {
    this.#wanted = true
    const failure = this.#failure
    if (failure !== undefined && this.#queue.length === 0) {
      this.#failure = undefined
      if (this.readableLength === 0) {
        this.fail(failure, true)
        return
      }
      // The last chunks are still in this Readable's buffer: fail once the reader has taken them.
      const taken = (): void => {
        if (this.readableLength > 0) return
        this.off('data', taken)
        setImmediate(() => this.fail(failure, true))
      }
      this.on('data', taken)
      return
    }
    this.#flush()
  }

  override _destroy (err: Error | null, callback: (err?: Error | null) => void): void {
    if (!this.#over) {
      this.#over = true
      this.stop()
      this.onAbandon?.()
    }
    this.#queue.length = 0
    callback(err)
  }

  #flush (): void {
    while (this.#wanted && this.#queue.length > 0) {
      const chunk = this.#queue.shift() as Uint8Array
      Atomics.store(this.#control, ACKED, ++this.#acked)
      if (Atomics.load(this.#control, WAITING) !== 0) Atomics.notify(this.#control, ACKED)
      this.movedAt = Date.now()
      this.#wanted = this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))
    }
    if (this.#ending && this.#queue.length === 0 && !this.#over) {
      this.#over = true
      this.push(null)
    }
  }
}

function noop (): void {}
