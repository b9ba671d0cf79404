// Whether Fastify would answer this request's object with plain JSON.stringify(), so that its
// thread may send the text instead (lib/core/route-json.ts): the same bytes, serialized once and
// off the main thread. Fastify serializes a handler's object (reply.send, preSerializationHookEnd)
// with, in order: a serializer set on the reply, the route's replySerializer, a response schema,
// else JSON.stringify(); after the route's preSerialization hooks, and only under a JSON content
// type (or none). So the route must have no response schema, no replySerializer and no
// preSerialization hook, and the reply as hooks left it no serializer. The content type, as hooks
// and the handler left it, is checked in the thread (its reply starts with the hooks' headers).
// Three of these are Fastify's internal fields (internals.ts): where one is missing (another
// Fastify), the route answers as before, with the object.

import type { FastifyReply, FastifyRequest } from 'fastify'
import { fastifySymbol, type Internal } from './internals.js'

interface ContextLike { preSerialization?: unknown }

// Per route context: the route-level half of the answer, fixed once the app is ready.
const byContext = new WeakMap<object, boolean>()

export function answersWithPlainJson (request: FastifyRequest, reply: FastifyReply): boolean {
  const kRouteContext = fastifySymbol(reply, 'fastify.context')
  const kReplySerializer = fastifySymbol(reply, 'fastify.reply.serializer')
  if (kRouteContext === undefined || kReplySerializer === undefined) return false
  if ((reply as unknown as Internal)[kReplySerializer] !== null) return false
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
  const kReplySerializerDefault = fastifySymbol(context, 'fastify.replySerializerDefault')
  if (kReplySerializerDefault === undefined) return false
  const schema = request.routeOptions.schema as { response?: unknown } | undefined
  return schema?.response === undefined &&
    context.preSerialization === null &&
    (context as Internal)[kReplySerializerDefault] == null
}
