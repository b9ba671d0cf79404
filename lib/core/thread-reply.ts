// The `reply` a handler sees in its thread. It mirrors Fastify's own reply methods line for line
// (set-cookie accumulates, `code()` coerces and range-checks, `getHeader()` sees what hooks set
// before the handler) and records every call, so the main thread can replay the same calls on the
// real reply and the framework applies its own rules to them: moving a handler into a thread
// must not change what the client gets. Each call is recorded in a form that always crosses: a
// status already coerced to its number, a header or type value that is not plain data as a
// stand-in (stand-in.ts), so no argument can fail the thread's answer.

import createError from '@fastify/error'
import { encodeHeaderValue } from './stand-in.js'
import type { HeaderValue, OffloadReply } from './types.js'

/** One reply call, replayed in order on the main thread. */
export const enum ReplyOp { Code = 0, Header = 1, RemoveHeader = 2, Type = 3 }
export type ReplyCall = [ReplyOp.Code | ReplyOp.Type, unknown] | [ReplyOp.Header, string, unknown] | [ReplyOp.RemoveHeader, string]

/** What the main thread tells the thread about the reply before the handler runs. */
export interface ReplyStart {
  /** Status code so far (Fastify: 200 unless a hook set another). */
  sc?: number
  /** Headers set so far (by hooks), lower-case names. */
  h?: Record<string, unknown>
}

/** Marks the error `code()` throws, so the main thread can ask the real reply for its own error. */
export const kBadStatus = Symbol.for('fastify-mpm.badStatus')

const kReplyHeaders = Symbol('fastify.reply.headers')

// Fastify's own error for a bad status, built the way Fastify builds it (same name, code, fields
// and message), so a handler that catches it sees what it would see inline.
const FST_ERR_BAD_STATUS_CODE = createError('FST_ERR_BAD_STATUS_CODE', 'Called reply with an invalid status code: %s', 500)

export class ThreadReply implements OffloadReply {
  readonly calls: ReplyCall[] = []
  #statusCode: number
  readonly [kReplyHeaders]: Record<string, any>

  constructor (start: ReplyStart | undefined) {
    this.#statusCode = start?.sc ?? 200
    this[kReplyHeaders] = start?.h ?? {}
  }

  get statusCode (): number { return this.#statusCode }
  set statusCode (code: number) { this.code(code) }

  code (code: number): this {
    // Coerced here, once, as Fastify does (`+code`): the number replays exactly, and an object
    // with a valueOf() need not cross.
    const statusCode = +code
    if (!(statusCode >= 100 && statusCode <= 599)) {
      const err = new FST_ERR_BAD_STATUS_CODE(code || String(code)) as unknown as Error & { [kBadStatus]: unknown }
      err[kBadStatus] = code
      throw err
    }
    this.#statusCode = statusCode
    this.calls.push([ReplyOp.Code, statusCode])
    return this
  }

  status (code: number): this { return this.code(code) }

  // Fastify's header() line for line, down to the expressions: a TypeError it throws (a
  // set-cookie that is not a string or an array) then carries the same message as inline.
  header (key: string, value: unknown = ''): this {
    key = key.toLowerCase()
    if (this[kReplyHeaders][key] && key === 'set-cookie') {
      if (typeof this[kReplyHeaders][key] === 'string') {
        this[kReplyHeaders][key] = [this[kReplyHeaders][key]]
      }
      if (Array.isArray(value)) {
        Array.prototype.push.apply(this[kReplyHeaders][key], value)
      } else {
        this[kReplyHeaders][key].push(value)
      }
    } else if (key === 'set-cookie' && Array.isArray(value)) {
      this[kReplyHeaders][key] = value.slice()
    } else {
      this[kReplyHeaders][key] = value
    }
    this.calls.push([ReplyOp.Header, key, encodeHeaderValue(value)])
    return this
  }

  headers (values: Record<string, HeaderValue>): this {
    for (const key of Object.keys(values)) this.header(key, values[key])
    return this
  }

  type (contentType: string): this {
    this[kReplyHeaders]['content-type'] = contentType
    this.calls.push([ReplyOp.Type, encodeHeaderValue(contentType)])
    return this
  }

  getHeader (key: string): HeaderValue | undefined { return this[kReplyHeaders][key.toLowerCase()] as HeaderValue | undefined }
  getHeaders (): Record<string, HeaderValue> { return { ...this[kReplyHeaders] } as Record<string, HeaderValue> }
  hasHeader (key: string): boolean { return this[kReplyHeaders][key.toLowerCase()] !== undefined }

  removeHeader (key: string): this {
    key = key.toLowerCase()
    delete this[kReplyHeaders][key]
    this.calls.push([ReplyOp.RemoveHeader, key])
    return this
  }
}
