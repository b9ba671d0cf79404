// The main thread's end of a request body streamed into a thread (`offload(url, { body: 'stream' })`):
// reads the request as the thread asks for it and posts the chunks on a channel named for the
// task, never more than `window` bytes ahead of what the thread's reader has read, so a slow
// handler pauses the socket instead of filling memory. The channel opens when the thread first
// asks (a message posted before the thread listens would be lost), which also lets a task that a
// retiring thread handed back be fed by the next thread. The route's body limit is counted here:
// past it the thread's body fails with the framework's 413 error and reading stops.

import { Transform, type Readable } from 'node:stream'
import { BroadcastChannel } from 'node:worker_threads'
import type { BodyMessage } from './marshal.js'
import { serializeError } from './route-error.js'

export interface BodySource {
  stream: Readable
  /** Bytes allowed (0 = no limit): the route's bodyLimit. */
  limit: number
  /** The framework's own error for a body past the limit (Fastify's FST_ERR_CTP_BODY_TOO_LARGE, 413). */
  tooLarge: () => Error
}

export class BodyFeed {
  readonly #name: string
  readonly #source: BodySource
  readonly #window: number
  #channel: BroadcastChannel | undefined
  #sent = 0
  #read = 0
  #over = false
  readonly #onData = (chunk: Buffer | string): void => this.#data(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  readonly #onEnd = (): void => this.#finish({ e: 1 })
  readonly #onError = (err: Error): void => this.#finish({ x: serializeError(err, false) })
  readonly #onAborted = (): void => this.#finish({ x: serializeError(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }), false) })

  constructor (name: string, source: BodySource, window: number) {
    this.#name = name
    this.#source = source
    this.#window = window
  }

  /** The thread's reader has read `read` bytes and wants more; -1: it let go of the body. */
  pull (read: number): void {
    if (this.#over) return
    if (read < 0) {
      this.close()
      return
    }
    this.#read = read
    if (this.#channel === undefined) this.#open()
    else if (this.#sent - this.#read <= this.#window && this.#source.stream.isPaused()) this.#source.stream.resume()
  }

  /** The task ended: stop reading and close the channel (what is left of the body is the framework's to discard). */
  close (): void {
    if (this.#over) return
    this.#over = true
    this.#unhook()
    this.#channel?.close()
  }

  #open (): void {
    this.#channel = new BroadcastChannel(this.#name)
    const { stream } = this.#source
    if (stream.readableEnded) {
      this.#finish({ e: 1 })
      return
    }
    stream.on('data', this.#onData)
    stream.once('end', this.#onEnd)
    stream.once('error', this.#onError)
    stream.once('aborted', this.#onAborted)
    stream.resume()
  }

  #data (chunk: Buffer): void {
    if (this.#over) return
    this.#sent += chunk.byteLength
    const { limit } = this.#source
    if (limit > 0 && this.#sent > limit) {
      this.#finish({ x: serializeError(this.#source.tooLarge(), false) })
      return
    }
    this.#channel?.postMessage({ c: chunk } satisfies BodyMessage)
    releaseCopied(chunk, this.#source.stream)
    if (this.#sent - this.#read > this.#window) this.#source.stream.pause()
  }

  #finish (message: BodyMessage): void {
    if (this.#over) return
    this.#channel?.postMessage(message)
    this.#over = true
    this.#unhook()
    // Closed after the last message is queued: the thread still receives it.
    this.#channel?.close()
    if (message.x !== undefined) this.#source.stream.pause()
  }

  #unhook (): void {
    const { stream } = this.#source
    stream.off('data', this.#onData)
    stream.off('end', this.#onEnd)
    stream.off('error', this.#onError)
    stream.off('aborted', this.#onAborted)
  }
}

/**
 * Frees a chunk the moment its bytes were copied to the thread, where the chunk is ours alone:
 * it owns its whole ArrayBuffer (the HTTP parser copies each body piece into one of its own) and
 * nothing but this feed listens to the request. Left to the collector, these copies pile up as
 * garbage (V8 collects ArrayBuffers only every ~64 MiB of them), which a 200 MiB upload showed as
 * the main thread's memory. `ArrayBuffer.prototype.transfer` (Node 22+) detaches the original;
 * on Node 20 the collector still does it.
 */
function releaseCopied (chunk: Buffer, stream: Readable): void {
  const buffer = chunk.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer }
  if (typeof buffer.transfer !== 'function') return
  if (chunk.byteOffset !== 0 || chunk.byteLength !== buffer.byteLength) return
  if (stream.listenerCount('data') !== 1) return
  buffer.transfer(0)
}

/** Inline (`threads: 0`): the request itself, failing with the framework's 413 once past the limit. */
export function limitedBody (source: BodySource): Readable {
  if (source.limit <= 0) return source.stream
  let seen = 0
  const limited = new Transform({
    transform (chunk: Buffer, _encoding, callback) {
      seen += chunk.byteLength
      if (seen > source.limit) {
        source.stream.unpipe(limited)
        callback(source.tooLarge())
        return
      }
      callback(null, chunk)
    }
  })
  source.stream.once('error', (err) => limited.destroy(err))
  return source.stream.pipe(limited)
}
