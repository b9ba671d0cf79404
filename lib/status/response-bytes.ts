// Counts the body bytes of one HTTP response as they are written, for the status page's
// `Total kBytes`, `BytesPerSec` and `BytesPerReq` (Apache counts body bytes the same way).
// Reading Content-Length on 'finish' is not enough: Fastify passes its headers to writeHead(),
// where getHeader() never sees them, and a chunked or streamed answer has no length at all.
// Reading the socket's bytesWritten is no better: headers are in it, and keep-alive and
// pipelined requests share the socket. So write() and end() of the response are wrapped; in the
// usual case by two shared functions (no closure per response), only while the status page is on.

import { OutgoingMessage, type ServerResponse } from 'node:http'

const kBytes = Symbol('fastify-mpm.bodyBytes')
const protoWrite = OutgoingMessage.prototype.write
const protoEnd = OutgoingMessage.prototype.end

type Counted = ServerResponse & { [kBytes]: number }
type Method = (this: ServerResponse, chunk: unknown, encoding: unknown, callback: unknown) => unknown

function size (chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? encoding as BufferEncoding : 'utf8')
  if (ArrayBuffer.isView(chunk)) return chunk.byteLength
  // end(callback) has no chunk.
  return 0
}

// Fixed arity, no rest arguments: Node's write() and end() sort out which argument is which.
function countingWrite (this: Counted, chunk: unknown, encoding: unknown, callback: unknown): unknown {
  this[kBytes] += size(chunk, encoding)
  return (protoWrite as Method).call(this, chunk, encoding, callback)
}

function countingEnd (this: Counted, chunk: unknown, encoding: unknown, callback: unknown): unknown {
  this[kBytes] += size(chunk, encoding)
  return (protoEnd as Method).call(this, chunk, encoding, callback)
}

/** Starts counting `res`'s body bytes; read them with bodyBytes() once it finished. */
export function countBodyBytes (res: ServerResponse): void {
  const counted = res as Counted
  counted[kBytes] = 0
  if (res.write === protoWrite && res.end === protoEnd) {
    res.write = countingWrite as ServerResponse['write']
    res.end = countingEnd as ServerResponse['end']
    return
  }
  // Something replaced them on this response already: count on top of what it put there.
  const write = res.write as unknown as Method
  const end = res.end as unknown as Method
  res.write = function (this: Counted, chunk: unknown, encoding: unknown, callback: unknown) {
    this[kBytes] += size(chunk, encoding)
    return write.call(this, chunk, encoding, callback)
  } as ServerResponse['write']
  res.end = function (this: Counted, chunk: unknown, encoding: unknown, callback: unknown) {
    this[kBytes] += size(chunk, encoding)
    return end.call(this, chunk, encoding, callback)
  } as ServerResponse['end']
}

/**
 * The body bytes `res` sent: 0 where HTTP sends no body whatever was written (HEAD, 1xx, 204,
 * 304, as Node drops it), else what was written to it since countBodyBytes().
 */
export function bodyBytes (res: ServerResponse): number {
  const status = res.statusCode
  if (status < 200 || status === 204 || status === 304 || res.req?.method === 'HEAD') return 0
  return (res as Partial<Counted>)[kBytes] ?? 0
}
