import { mpm } from './plugin.js'

export default mpm
export { mpm, Mpm, type RunOptions } from './plugin.js'
export { offload, type OffloadOptions, type TaskEvent, type TaskObserver, type TaskResult } from './offload.js'
export { type MpmOptions, type ThreadsOption } from './options.js'
export { type PoolStats } from './pool.js'
export type { OffloadHandler, OffloadLogger, OffloadReply, OffloadRequest, OffloadRouteGeneric } from './types.js'
export * as errors from './errors.js'
export {
  cluster, type ClusterOptions, type ClusterHandle, type ClusterEvents, type ClusterAddress, type ClusterLogger,
  type ExitEvent, type ReloadResult, type StopResult, type ForkReason
} from './cluster/index.js'
export * as clusterErrors from './cluster/errors.js'
export { type StatusOptions } from './options.js'
export type { ReadinessOptions } from './status/readiness.js'
export type { ServerStatus, ProcessSummary, RouteSummary } from './status/summary.js'
// For people who write their own node:cluster primary instead of using cluster().
export { installStatusRelay, type PrimaryView, type RelayOptions } from './status/relay.js'
