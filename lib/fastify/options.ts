// The plugin's options as Fastify users pass them: the pool's knobs and the operator view's, with
// Fastify onRequest hooks as guards. Fastify's own register() keys are let through.

import type { onRequestHookHandler } from 'fastify'
import { checkKeys, CORE_KEYS, resolveCoreOptions, type CoreOptions, type ResolvedCoreOptions } from '../core/options.js'
import { resolveNamedPools, type ResolvedNamedPool } from '../core/pool-options.js'
import { resolveViewOptions, VIEW_KEYS, type ResolvedView, type StatusOptions as ViewStatusOptions, type ViewOptions } from '../status/options.js'

export type StatusOptions = ViewStatusOptions<onRequestHookHandler>
export interface MpmOptions extends CoreOptions, ViewOptions<onRequestHookHandler> {}
export type ResolvedOptions = ResolvedCoreOptions & ResolvedView<onRequestHookHandler> & { pools: ResolvedNamedPool[] }

// Keys Fastify itself passes to every plugin through `register(plugin, opts)`.
const REGISTER_KEYS = new Set(['prefix', 'logLevel', 'logSerializers', 'encapsulate'])
const KNOWN_KEYS = new Set([...CORE_KEYS, ...VIEW_KEYS])

export function resolveOptions (opts: MpmOptions = {}): ResolvedOptions {
  const checked = checkKeys(opts, KNOWN_KEYS, REGISTER_KEYS) as MpmOptions
  return { ...resolveCoreOptions(checked), pools: resolveNamedPools(checked), ...resolveViewOptions<onRequestHookHandler>(checked, 'a Fastify onRequest hook (request, reply) => ...') }
}
