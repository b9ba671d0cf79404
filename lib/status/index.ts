// The operator view, wired into one app: the status route (HTML, ?auto, ?json), the metrics
// route, their guards, the counters they read, the slow log, and this process's answers to the
// cluster primary. Everything here is off unless its option is set.

import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import type { Mpm } from '../plugin.js'
import type { ResolvedEndpoint } from '../options.js'
import { compileAllow } from './allow.js'
import { ConnectionTracker } from './connections.js'
import { addChildProvider, askPrimary, inCluster, type ChildProvider } from './relay.js'
import { renderAuto } from './render-auto.js'
import { renderHtml } from './render-html.js'
import { LocalStatus } from './scoreboard.js'
import { slowLog } from './slowlog.js'
import { summarize, type ServerStatus } from './summary.js'

// Longer than the primary's per-child timeout, so a slow child shows as such instead of the
// whole page falling back to this process alone.
const ASK_PRIMARY_TIMEOUT = 2500
const MAX_REFRESH = 3600

/** `routes` names the offloaded routes, so the page lists each from the start (with zero counts). */
export async function registerStatus (fastify: FastifyInstance, mpm: Mpm, routes: () => string[] = () => []): Promise<void> {
  const { status, metrics, slowTaskThreshold } = mpm.options
  if (slowTaskThreshold > 0) mpm.onTask(slowLog(fastify.log, slowTaskThreshold))
  if (status === null && metrics === null) return

  const pool = mpm.pool
  const provider: ChildProvider = {}
  const cleanups: Array<() => void> = []
  const tracker = new ConnectionTracker(fastify.server)
  const connections = (): ReturnType<ConnectionTracker['counts']> => tracker.counts()

  if (status !== null) {
    const local = new LocalStatus({ stats: () => pool.stats(), slots: () => pool.slots(), closing: () => pool.closing, connections, routes })
    mpm.onTask(local.task)
    fastify.addHook('onResponse', (_request, reply, done) => {
      local.served(reply.getHeader('content-length'))
      done()
    })
    provider.snapshot = (workerId) => local.snapshot(workerId)
    const current = async (): Promise<ServerStatus> => {
      if (inCluster()) {
        const gathered = await askPrimary('status', ASK_PRIMARY_TIMEOUT)
        if (gathered !== null) {
          return summarize({ mode: 'cluster', pid: gathered.primary.pid, startedAt: gathered.primary.startedAt, processRestarts: gathered.primary.restarts, processRecycles: gathered.primary.recycles, processes: gathered.processes })
        }
        const note = 'The cluster primary did not answer in time: this page shows only the process that served it.'
        return summarize({ mode: 'cluster', pid: process.pid, startedAt: local.startedAt, processRestarts: 0, note, processes: [local.snapshot()] })
      }
      return summarize({ mode: 'single', pid: process.pid, startedAt: local.startedAt, processRestarts: 0, processes: [local.snapshot()] })
    }
    const onRequest = guards(status)
    const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const query = (request.query ?? {}) as Record<string, unknown>
      const data = await current()
      reply.header('cache-control', 'no-store')
      if ('json' in query) return reply.type('application/json; charset=utf-8').send(JSON.stringify(data))
      if ('auto' in query) return reply.type('text/plain; charset=utf-8').send(renderAuto(data))
      return reply.type('text/html; charset=utf-8').send(renderHtml(data, { refresh: refresh(query.refresh) }))
    }
    // Apache answers `/server-status/` like `/server-status`, and Apache tooling asks for the former
    // (prometheus-apache-exporter's default is `http://localhost/server-status/?auto`).
    // (An app with ignoreTrailingSlash already has the second one.)
    for (const url of withTrailingSlash(status.path)) {
      if (!fastify.hasRoute({ method: 'GET', url })) fastify.route({ method: 'GET', url, onRequest, handler })
    }
  }

  if (metrics !== null) {
    const { addMetricsSource, localMetrics, localMetricsJSON } = await import('./metrics.js')
    const source = addMetricsSource({ stats: () => pool.stats(), slots: () => pool.slots(), connections })
    mpm.onTask(source.observe)
    cleanups.push(source.remove)
    provider.metrics = localMetricsJSON
    fastify.route({
      method: 'GET',
      url: metrics.path,
      onRequest: guards(metrics),
      handler: async (_request: FastifyRequest, reply: FastifyReply) => {
        const result = (inCluster() ? await askPrimary('metrics', ASK_PRIMARY_TIMEOUT) : null) ?? await localMetrics()
        return reply.header('cache-control', 'no-store').type(result.contentType).send(result.text)
      }
    })
  }

  cleanups.push(addChildProvider(provider))
  fastify.addHook('onClose', async () => { for (const cleanup of cleanups) cleanup() })
}

function guards (endpoint: ResolvedEndpoint): onRequestHookHandler[] {
  const hooks: onRequestHookHandler[] = []
  if (endpoint.allow !== null) {
    const allowed = compileAllow(endpoint.allow)
    hooks.push(async (request, reply) => {
      // The connection's address, never request.ip: with trustProxy that comes from
      // X-Forwarded-For, which any client can write.
      if (allowed(request.raw.socket.remoteAddress ?? '')) return
      reply.code(403).header('cache-control', 'no-store').type('text/plain; charset=utf-8').send('Forbidden\n')
      return reply
    })
  }
  if (endpoint.onRequest !== undefined) hooks.push(endpoint.onRequest)
  return hooks
}

function withTrailingSlash (path: string): string[] {
  if (path === '/') return [path]
  return path.endsWith('/') ? [path, path.slice(0, -1)] : [path, `${path}/`]
}

function refresh (value: unknown): number {
  const n = Number(Array.isArray(value) ? value[0] : value)
  return Number.isInteger(n) && n > 0 ? Math.min(n, MAX_REFRESH) : 0
}
