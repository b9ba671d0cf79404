// Fastify's side of `offload(url, { body: 'stream' })`: the route's request body must reach the
// thread unread, yet Fastify parses every body before the handler (by content type, with no
// per-route switch). So the route's own context is given a content-type parser that parses
// nothing and goes straight on to validation and the handler, leaving the payload stream (after
// any preParsing hooks, such as decompression) for the handler's thread. This reaches into two
// of Fastify's internal fields, found by their symbols' names; the route test fails loudly if a
// Fastify release renames them.

import type { FastifyRequest, onRequestHookHandler, RouteOptions } from 'fastify'
import type { Readable } from 'node:stream'
import type { BodySource } from '../core/body-feed.js'
import { fastifySymbol, type Internal } from './internals.js'

interface ParserLike { run: (contentType: string, handler: (request: unknown, reply: unknown) => void, request: unknown, reply: unknown) => void }

/** A content-type parser that leaves the body alone, for the contexts of streamed-body routes. */
const PASS_THROUGH: ParserLike = { run: (_contentType, handler, request, reply) => { handler(request, reply) } }

/** Adds the route's first onRequest hook: its context parses no body. */
export function streamBodyOf (routeOptions: RouteOptions): void {
  const passThrough: onRequestHookHandler = function (request, _reply, done) {
    const kRouteContext = fastifySymbol(request, 'fastify.context')
    const context = kRouteContext === undefined ? undefined : (request as unknown as Internal)[kRouteContext] as { contentTypeParser?: unknown } | undefined
    if (context === undefined || typeof (context.contentTypeParser as ParserLike | undefined)?.run !== 'function') {
      done(new Error(`fastify-mpm: route ${String(routeOptions.method)} ${routeOptions.url}: body: 'stream' needs Fastify's route context, which this Fastify version does not have`))
      return
    }
    context.contentTypeParser = PASS_THROUGH
    done()
  }
  const own = routeOptions.onRequest
  routeOptions.onRequest = own === undefined ? [passThrough] : [passThrough, ...(Array.isArray(own) ? own : [own])]
}

/** The request's body stream (after preParsing hooks), its limit and Fastify's 413 for it. */
export function bodySource (request: FastifyRequest, tooLarge: () => Error): BodySource {
  const kPayloadStream = fastifySymbol(request, 'fastify.RequestPayloadStream')
  const stream = (kPayloadStream === undefined ? undefined : (request as unknown as Internal)[kPayloadStream] as Readable | undefined) ?? request.raw
  return { stream, limit: request.routeOptions.bodyLimit ?? 0, tooLarge }
}
