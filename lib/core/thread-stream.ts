// The thread's side of streams, both ways. A handler's returned stream (a Node Readable or a web
// ReadableStream) is read here and posted to the main thread chunk by chunk, on the thread's
// channel, at most `limit` bytes ahead of what the main thread has handed to the socket: the main
// thread acknowledges chunks in a small shared buffer the stream brings along, and this side
// waits on it (Atomics.waitAsync), so a slow client pauses the producer and nothing piles up on
// either side. A request body streamed in (`body: 'stream'`) arrives on a channel of its own and
// is acknowledged the same way, in bytes read. The thread is held until its stream ends, as
// Apache's worker holds a thread for each request it answers.

import { Readable } from 'node:stream'
import { BroadcastChannel } from 'node:worker_threads'
import { deserializeError, serializeError } from './route-value.js'
import type { StreamMessage, BodyMessage } from './marshal.js'

/** What a handler may return to answer with a stream, as Fastify accepts it. */
export type ReturnedStream = Readable | ReadableStream

/** A Node Readable (anything Fastify would `pipe()`) or a web ReadableStream. */
export function isReturnedStream (value: unknown): value is ReturnedStream {
  if (value === null || typeof value !== 'object') return false
  if (typeof (value as { pipe?: unknown }).pipe === 'function' && typeof (value as Record<symbol, unknown>)[Symbol.asyncIterator] === 'function') return true
  return typeof ReadableStream === 'function' && value instanceof ReadableStream
}

/**
 * The stream's control memory (Int32 cells): ACKED, the chunks the main thread has taken; STOP,
 * non-zero once it wants the stream to stop; WAITING, non-zero while the producer waits for
 * ACKED to move, so the main thread wakes it only then.
 */
export const ACKED = 0
export const STOP = 1
export const WAITING = 2
export const CONTROL_BYTES = 12

export interface StreamStart {
  stream: ReturnedStream
  iterator: AsyncIterator<unknown>
  /** The first chunk, read before the head goes out: an error before it is the handler's error. */
  first: Uint8Array | undefined
  done: boolean
}

/**
 * Reads the stream's first chunk. Throws what the stream fails with before it: then no byte and
 * no header has gone out, and the failure is answered as if the handler had thrown it.
 */
export async function startStream (stream: ReturnedStream): Promise<StreamStart> {
  const iterator = (stream as unknown as AsyncIterable<unknown>)[Symbol.asyncIterator]()
  try {
    const { value, done } = await iterator.next()
    return { stream, iterator, first: done === true ? undefined : toBytes(value), done: done === true }
  } catch (err) {
    await closeQuietly({ stream, iterator })
    throw err
  }
}

/** How a stream's pumping ended. */
export type PumpEnd = 'ended' | 'errored' | 'stopped'

/**
 * Posts the rest of the stream (`first` went with the head), waiting whenever more than `limit`
 * bytes are unacknowledged, and stops (destroying the stream, so a generator's `finally` runs)
 * once the main thread sets STOP or `cancelled()` says so.
 */
export async function pumpStream (start: StreamStart, control: Int32Array, limit: number, post: (message: StreamMessage) => void,
  taskId: number, cancelled: () => boolean): Promise<PumpEnd> {
  // Sizes of the chunks not yet acknowledged; `base` numbers the first of them.
  let sizes: number[] = []
  let base = 0
  let acked = 0
  let inFlight = 0
  const sent = (bytes: number): void => { sizes.push(bytes); inFlight += bytes }
  const settle = (): void => {
    const now = Atomics.load(control, ACKED)
    while (acked < now && acked - base < sizes.length) inFlight -= sizes[acked++ - base]
    if (acked - base > 1024) {
      sizes = sizes.slice(acked - base)
      base = acked
    }
  }
  // The first chunk went out with the head; it is acknowledged like any other.
  if (start.first !== undefined) sent(start.first.byteLength)
  const stop = (): boolean => Atomics.load(control, STOP) !== 0 || cancelled()
  if (start.done) {
    post({ s: taskId, e: 1 })
    return 'ended'
  }
  // A read started while gathering that was not ready before the event loop turned.
  let pending: Promise<IteratorResult<unknown>> | undefined
  // The chunks read but not posted yet (posted before an error that follows them).
  let parts: Uint8Array[] = []
  let bytes = 0
  const flush = (): void => {
    if (parts.length === 0) return
    post({ s: taskId, c: parts.length === 1 ? parts[0] : Buffer.concat(parts, bytes) })
    sent(bytes)
    parts = []
    bytes = 0
  }
  try {
    for (;;) {
      settle()
      while (inFlight > limit) {
        if (stop()) break
        const seen = Atomics.load(control, ACKED)
        if (seen === acked) {
          Atomics.store(control, WAITING, 1)
          const wait = Atomics.waitAsync(control, ACKED, seen, 50)
          if (wait.async) await wait.value
          Atomics.store(control, WAITING, 0)
        }
        settle()
      }
      if (stop()) {
        await closeQuietly(start)
        post({ s: taskId, e: 2 })
        return 'stopped'
      }
      const next = await (pending ?? start.iterator.next())
      pending = undefined
      if (next.done === true) break
      let chunk = toBytes(next.value)
      parts.push(chunk)
      bytes += chunk.byteLength
      // Small chunks the producer has ready now go as one message: a generator yielding a row at
      // a time would otherwise cost a message, and main-thread work, per row. Only what is ready
      // before this thread's event loop turns is gathered; nothing waits for more data.
      let ended = false
      while (bytes < GATHER_BYTES) {
        pending = start.iterator.next()
        const ready = await Promise.race([pending, nextTurn()])
        if (ready === NOT_READY) break
        pending = undefined
        if (ready.done === true) {
          ended = true
          break
        }
        chunk = toBytes(ready.value)
        parts.push(chunk)
        bytes += chunk.byteLength
      }
      if (stop()) {
        await closeQuietly(start)
        post({ s: taskId, e: 2 })
        return 'stopped'
      }
      flush()
      if (ended) break
    }
  } catch (err) {
    // What the stream gave before it failed goes first, as a reader inline gets it before the error.
    flush()
    await closeQuietly(start)
    post({ s: taskId, x: serializeError(err instanceof Error ? err : new Error(String(err)), false) })
    return 'errored'
  }
  post({ s: taskId, e: 1 })
  return 'ended'
}

/** Chunks smaller than this together, when the producer has them ready at once, go as one message. */
const GATHER_BYTES = 64 * 1024

const NOT_READY = Symbol('not ready')
function nextTurn (): Promise<typeof NOT_READY> {
  return new Promise((resolve) => setImmediate(resolve, NOT_READY))
}

function isNodeStream (stream: ReturnedStream): stream is Readable {
  return typeof (stream as Readable).destroy === 'function' && typeof (stream as Readable).once === 'function'
}

/** What `res.write()` accepts, as bytes; anything else fails the stream as it would inline. */
function toBytes (value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value
  if (typeof value === 'string') return Buffer.from(value)
  throw new TypeError(`The "chunk" argument must be of type string or an instance of Buffer or Uint8Array. Received ${describe(value)}`)
}

function describe (value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'object') return `an instance of ${(value as object).constructor?.name ?? 'Object'}`
  return `type ${typeof value} (${String(value).slice(0, 30)})`
}

/** How long a stopped stream's cleanup (a generator's `finally`) may hold the thread. */
const CLOSE_WAIT_MS = 5000

/**
 * Destroys the stream as Fastify does when its client leaves (a Node stream's destroy(), a web
 * stream's cancel()), and waits for its cleanup to finish, so the thread is free only once a
 * generator's `finally` has run.
 */
async function closeQuietly ({ stream, iterator }: { stream: ReturnedStream, iterator: AsyncIterator<unknown> }): Promise<void> {
  try {
    // A Node stream (of this Node or of the readable-stream package): destroy() and 'close'.
    if (isNodeStream(stream)) {
      if (stream.closed) return
      const closed = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, CLOSE_WAIT_MS)
        stream.once('close', () => { clearTimeout(timer); resolve() })
      })
      stream.destroy()
      await closed
      return
    }
    await iterator.return?.()
  } catch {}
}

// -- request bodies, streamed in -------------------------------------------------------------------

/**
 * The request body as a Node Readable, fed by the main thread on the channel `name`: the thread
 * asks for more (posting how many bytes it has read) whenever the Readable wants data, so the
 * main thread never sends more than its window ahead. `done()` closes the channel once the task ends.
 */
export function bodyStream (name: string, taskId: number, post: (message: StreamMessage) => void): { body: Readable, done: () => void } {
  const channel = new BroadcastChannel(name)
  let read = 0
  let closed = false
  const close = (): void => {
    if (closed) return
    closed = true
    channel.close()
  }
  const body = new Readable({
    highWaterMark: 64 * 1024,
    read () { post({ s: taskId, p: read }) },
    destroy (err, callback) {
      // Tell the main thread to stop sending: -1 means the handler let go of the body.
      if (!closed) post({ s: taskId, p: -1 })
      close()
      callback(err)
    }
  })
  channel.onmessage = (event) => {
    const message = (event as { data: BodyMessage }).data
    if (message.c !== undefined) {
      const chunk = Buffer.from(message.c.buffer, message.c.byteOffset, message.c.byteLength)
      read += chunk.byteLength
      body.push(chunk)
    } else if (message.e !== undefined) {
      close()
      body.push(null)
    } else if (message.x !== undefined) {
      close()
      body.destroy(deserializeError(message.x))
    }
  }
  return { body, done: close }
}
