import { mpm } from './plugin.js'

export default mpm
export { mpm, Mpm, type RunOptions } from './plugin.js'
export { offload, type OffloadOptions, type TaskEvent, type TaskObserver, type TaskResult } from './offload.js'
export { type MpmOptions, type ThreadsOption } from './options.js'
export { type PoolStats } from './pool.js'
export type { OffloadHandler, OffloadLogger, OffloadReply, OffloadRequest, OffloadRouteGeneric } from './types.js'
export * as errors from './errors.js'
