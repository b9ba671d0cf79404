// A route's object answer as JSON text, made in the handler's thread. Fastify answers a plain
// object with JSON.stringify() on the main thread, and Express's res.json() does the same, so
// serializing there is main-thread work an offloaded route pays for twice: the object is copied
// across (structured clone) and then stringified. When the framework would send exactly
// JSON.stringify(value) (the adapter says so for the route and the reply as the hooks left it:
// `sj` on the task), the thread sends the text instead, and the answer is the same bytes.
//
// Only values the framework could not treat as anything but JSON, and that JSON.stringify() turns
// into the same text in any thread, go this way: a plain object or array (no class instance, no
// Proxy), with none of the fields Fastify's send() looks at before serializing (`pipe`,
// `getReader`, `buffer`, a toStringTag), that is clone-safe (route-shape.ts: no getter, no
// toJSON() but a Date's, shallower than MAX_CLONE_DEPTH, since a thread's stack is not the main
// thread's and a value deep enough to overflow there must fail as inline), under a content type
// the handler left empty or JSON. Anything else, or a value JSON.stringify() throws on (a BigInt),
// goes the usual way (route-value.ts), where the framework meets it as inline.

import { types } from 'node:util'
import type { HeaderValue } from './types.js'
import { isCloneSafe } from './route-shape.js'

// Fastify reads these before it serializes (reply.send): a value with one of them may not be JSON to it.
const SEND_FIELDS = ['pipe', 'getReader', 'buffer'] as const

// A media type whose subtype names JSON, optionally with parameters: what Fastify serializes as JSON.
const JSON_TYPE = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]*json[a-z0-9!#$&^_.+-]*\s*(;.*)?$/i

/** The value as the JSON text the framework would send, or undefined when it must go as a value. */
export function jsonAnswer (value: unknown, contentType: HeaderValue | undefined): string | undefined {
  if (value === null || typeof value !== 'object' || !isPlainContainer(value)) return undefined
  if (contentType !== undefined && !(typeof contentType === 'string' && JSON_TYPE.test(contentType))) return undefined
  let text: unknown
  try {
    text = JSON.stringify(value)
  } catch {
    // Inline, the framework's serializer throws this: the usual path reproduces it there.
    return undefined
  }
  return typeof text === 'string' ? text : undefined
}

function isPlainContainer (value: object): boolean {
  if (types.isProxy(value)) return false
  const proto = Object.getPrototypeOf(value)
  if (Array.isArray(value) ? proto !== Array.prototype : proto !== Object.prototype && proto !== null) return false
  for (const field of SEND_FIELDS) if (Object.hasOwn(value, field)) return false
  return !Object.hasOwn(value, Symbol.toStringTag) && isCloneSafe(value, 0)
}
