// A large Buffer body (`application/octet-stream` parsed to a Buffer, an upload read whole) is
// moved to its thread rather than copied, when the Buffer owns its memory: structured clone would
// copy every byte, and the main thread would hold the request twice. The thread moves it back
// with its answer, so hooks and the error handler that read `request.body` after the handler see
// it as inline. A small body is cheaper to copy than to move, and a Buffer that shares Node's
// pool (or a slab) cannot be moved at all.

import type { Outcome, RouteTask } from './marshal.js'

/** Below this many bytes a body is copied. */
const MOVE_MIN_BYTES = 64 * 1024

/** The ArrayBuffer to move for this task's body, marking the task, or undefined to copy it. */
export function movableBody (task: RouteTask): ArrayBuffer | undefined {
  const body = task.r.body
  if (!(body instanceof Uint8Array) || body.byteLength < MOVE_MIN_BYTES) return undefined
  if (body.byteOffset !== 0 || body.byteLength !== body.buffer.byteLength || !(body.buffer instanceof ArrayBuffer)) return undefined
  task.mb = 1
  return body.buffer
}

/** The body as the main thread has it again after its thread moved it back (undefined: it stays where it is). */
export function returnedBody (outcome: Outcome): Buffer | undefined {
  const bytes = outcome.rb
  if (bytes === undefined) return undefined
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
