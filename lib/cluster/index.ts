// cluster(): N processes × M threads, the other half of the worker MPM.

import nodeCluster from 'node:cluster'
import { FST_MPM_NOT_PRIMARY } from './errors.js'
import { resolveClusterOptions, type ClusterOptions } from './options.js'
import { Primary, type ClusterHandle } from './primary.js'

export type { ClusterLogger, ClusterOptions } from './options.js'
export type { ClusterAddress, ClusterEvents, ClusterHandle, ExitEvent, ReloadResult, StopResult } from './primary.js'
export type { ForkReason } from './worker-handle.js'
export type { ChildSummary } from '../status/relay.js'
export * as clusterErrors from './errors.js'

/**
 * Forks `processes` children that each build the app from its module and listen on one shared
 * address, and supervises them. Resolves once every child listens; rejects (after stopping the
 * others) if one fails to build or listen.
 */
export async function cluster (options: ClusterOptions): Promise<ClusterHandle> {
  if (nodeCluster.isWorker) throw new FST_MPM_NOT_PRIMARY()
  const primary = new Primary(resolveClusterOptions(options))
  await primary.start()
  return primary
}
