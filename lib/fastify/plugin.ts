// The Fastify plugin: options → the process's Mpm (pool), route binding, startup checks, the
// operator view, decorator, graceful close.

import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { Mpm } from '../core/mpm.js'
import type { OffloadTarget } from '../core/offload-target.js'
import { resolveOptions, type MpmOptions } from './options.js'
import { registerStatus } from './status-routes.js'
import { bindHandler, kOffload } from './offload.js'
import { streamBodyOf } from './stream-body.js'

const plugin: FastifyPluginAsync<MpmOptions> = async function fastifyMpm (fastify, opts) {
  // -- options --
  const { requestIdLogLabel } = fastify.initialConfig as { requestIdLogLabel?: string }
  const mpm = new Mpm(resolveOptions(opts as MpmOptions & Record<string, unknown>), fastify.log, requestIdLogLabel ?? 'reqId')

  // -- hooks --
  fastify.addHook('onRoute', (routeOptions) => {
    const target = (routeOptions.handler as { [kOffload]?: OffloadTarget } | undefined)?.[kOffload]
    if (target === undefined) return
    // A route's own handlerTimeout (Fastify >= 5.8) also bounds its thread, unless offload() set one.
    const handlerTimeout = routeOptions.handlerTimeout ?? (fastify.initialConfig as { handlerTimeout?: number }).handlerTimeout
    routeOptions.handler = bindHandler(mpm.addRoute(target, `${String(routeOptions.method)} ${routeOptions.url}`, handlerTimeout))
    // offload(url, { body: 'stream' }): the body reaches the thread unparsed.
    if (target.streamBody === true) streamBodyOf(routeOptions)
  })

  // Load every handler module once, in a thread, so a missing file or export fails ready().
  fastify.addHook('onReady', async () => { await mpm.verify() })

  // Status page, metrics, readiness and slow log: each off unless its option is set.
  await registerStatus(fastify, mpm)

  // -- decorators --
  fastify.decorate('mpm', mpm)

  // -- close --
  // Fastify closes its server before running onClose hooks, and server.close() waits for every
  // request in flight: so refuse new work and bound the wait from preClose, where answers from then
  // on carry `Connection: close` (keep-alive clients cannot hold close() open) and a stuck task is
  // terminated after closeTimeout instead of holding close() forever.
  fastify.addHook('preClose', async () => { mpm.stopAccepting() })
  fastify.addHook('onClose', async () => { await mpm.close() })
}

declare module 'fastify' {
  interface FastifyInstance {
    mpm: Mpm
  }
}

export const mpm = fp(plugin, { fastify: '5.x', name: 'fastify-mpm' })
