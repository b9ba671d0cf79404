// The operator view as Fastify routes: the status page (also at its trailing-slash URL, where
// Apache tooling asks), metrics and readiness, each with its guards, plus request and connection
// counting on Fastify's server. Everything here is off unless its option is set.

import type { FastifyInstance, FastifyReply, onRequestHookHandler } from 'fastify'
import type { Mpm } from '../core/mpm.js'
import { addressCheck, FORBIDDEN, OperatorView, withTrailingSlash, type Page } from '../status/operator-view.js'
import type { ResolvedEndpoint } from '../status/options.js'
import { Advisor } from '../status/advisor.js'
import { watchLoopTime } from './loop-time.js'
import type { ResolvedOptions } from './options.js'

export async function registerStatus (fastify: FastifyInstance, mpm: Mpm<ResolvedOptions>): Promise<void> {
  const { status, metrics, readiness, slowTaskThreshold, advisor } = mpm.options
  if (status === null && metrics === null && readiness === null && slowTaskThreshold === 0) {
    // The advisor alone: its warn line needs no operator view (nor an answer to the cluster primary).
    if (advisor !== null) watchLoopTime(fastify, mpm, new Advisor(advisor, fastify.log))
    return
  }
  const view = new OperatorView(mpm, fastify.log, slowTaskThreshold)
  fastify.addHook('onClose', async () => { view.close() })
  if (advisor !== null) watchLoopTime(fastify, mpm, view.enableAdvisor(advisor, fastify.log))
  if (status === null && metrics === null && readiness === null) return
  view.attach(fastify.server)

  if (status !== null) {
    view.enableStatus()
    const onRequest = guards(status)
    // (An app with ignoreTrailingSlash already has the second URL.)
    for (const url of withTrailingSlash(status.path)) {
      if (fastify.hasRoute({ method: 'GET', url })) continue
      fastify.route({ method: 'GET', url, onRequest, handler: async (request, reply) => send(reply, await view.statusPage((request.query ?? {}) as Record<string, unknown>)) })
    }
  }
  if (metrics !== null) {
    await view.enableMetrics()
    fastify.route({ method: 'GET', url: metrics.path, onRequest: guards(metrics), handler: async (_request, reply) => send(reply, await view.metricsPage()) })
  }
  if (readiness !== null) {
    // A probe a second would otherwise be most of the request log.
    fastify.route({ method: 'GET', url: readiness.path, logLevel: 'warn', handler: async (_request, reply) => send(reply, view.readinessPage(readiness)) })
  }
}

function send (reply: FastifyReply, page: Page): FastifyReply {
  return reply.code(page.status).header('cache-control', 'no-store').type(page.type).send(page.body)
}

function guards (endpoint: ResolvedEndpoint<onRequestHookHandler>): onRequestHookHandler[] {
  const hooks: onRequestHookHandler[] = []
  const allowed = addressCheck(endpoint)
  if (allowed !== null) {
    hooks.push(async (request, reply) => {
      // The connection's address, never request.ip: with trustProxy that comes from
      // X-Forwarded-For, which any client can write.
      if (allowed(request.raw.socket.remoteAddress ?? '')) return
      return send(reply, FORBIDDEN)
    })
  }
  if (endpoint.onRequest !== undefined) hooks.push(endpoint.onRequest)
  return hooks
}
