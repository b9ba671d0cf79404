import { mpm } from './fastify/plugin.js'

export default mpm
export { mpm } from './fastify/plugin.js'
export { Mpm, type RunOptions } from './core/mpm.js'
export { offload } from './fastify/offload.js'
export type { OffloadOptions, TaskEvent, TaskObserver, TaskResult } from './core/offload-target.js'
export type { MpmOptions, StatusOptions } from './fastify/options.js'
export type { ThreadsOption } from './core/options.js'
export { type PoolStats } from './core/pool.js'
export type { OffloadHandler, OffloadLogger, OffloadReply, OffloadRequest, OffloadRouteGeneric } from './core/types.js'
export * as errors from './core/errors.js'
export {
  cluster, type ClusterOptions, type ClusterHandle, type ClusterEvents, type ClusterAddress, type ClusterLogger,
  type ExitEvent, type ReloadResult, type StopResult, type ForkReason
} from './cluster/index.js'
export * as clusterErrors from './cluster/errors.js'
export type { ReadinessOptions } from './status/readiness.js'
export type { AdvisorOptions } from './status/advisor.js'
export type { LoopTimeRow } from './status/loop-report.js'
export type { ServerStatus, ProcessSummary, RouteSummary } from './status/summary.js'
// For people who write their own node:cluster primary instead of using cluster().
export { installStatusRelay, type PrimaryView, type RelayOptions } from './status/relay.js'
