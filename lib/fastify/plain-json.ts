// Whether Fastify would answer this request's object with plain JSON.stringify(), so that its
// thread may send the text instead (lib/core/route-json.ts): the same bytes, serialized once and
// off the main thread. Fastify serializes a handler's object (reply.send, preSerializationHookEnd)
// with, in order: a serializer set on the reply, the route's replySerializer, a response schema,
// else JSON.stringify(); after the route's preSerialization hooks, and only under a JSON content
// type (or none). So the route must have no response schema, no replySerializer and no
// preSerialization hook, and the reply as hooks left it no serializer and a JSON content type or
// none; the handler's own content type is checked in the thread. Three of these are Fastify's
// internal fields, found by their symbols' names: where one is missing (another Fastify), the
// route answers as before, with the object.

import type { FastifyReply, FastifyRequest } from 'fastify'

type Internal = Record<symbol, unknown>
interface ContextLike { preSerialization?: unknown }

const JSON_TYPE = /^[^;]*json/i

let kRouteContext: symbol | undefined
let kReplySerializer: symbol | undefined
let kReplySerializerDefault: symbol | undefined
// Per route context: the route-level half of the answer, fixed once the app is ready.
const byContext = new WeakMap<object, boolean>()

/** A symbol keyed on the object or its prototypes (Fastify defines some on Reply's prototype). */
function symbolNamed (object: object, description: string): symbol | undefined {
  for (let o: object | null = object; o !== null; o = Object.getPrototypeOf(o)) {
    const found = Object.getOwnPropertySymbols(o).find((symbol) => symbol.description === description)
    if (found !== undefined) return found
  }
  return undefined
}

export function answersWithPlainJson (request: FastifyRequest, reply: FastifyReply): boolean {
  kRouteContext ??= symbolNamed(reply, 'fastify.context')
  kReplySerializer ??= symbolNamed(reply, 'fastify.reply.serializer')
  if (kRouteContext === undefined || kReplySerializer === undefined) return false
  if ((reply as unknown as Internal)[kReplySerializer] !== null) return false
  const type = reply.getHeader('content-type')
  if (type !== undefined && !(typeof type === 'string' && JSON_TYPE.test(type))) return false
  const context = (reply as unknown as Internal)[kRouteContext] as ContextLike | undefined
  if (context === undefined || context === null) return false
  let plain = byContext.get(context)
  if (plain === undefined) {
    plain = routeSerializesPlainly(request, context)
    byContext.set(context, plain)
  }
  return plain
}

function routeSerializesPlainly (request: FastifyRequest, context: ContextLike): boolean {
  kReplySerializerDefault ??= symbolNamed(context, 'fastify.replySerializerDefault')
  if (kReplySerializerDefault === undefined) return false
  const schema = request.routeOptions.schema as { response?: unknown } | undefined
  return schema?.response === undefined &&
    context.preSerialization === null &&
    (context as Internal)[kReplySerializerDefault] == null
}
