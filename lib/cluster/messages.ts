// What the primary and its children say to each other over the node:cluster IPC channel.
// Every message is `{ type: 'fastify-mpm:…' }`, so other IPC traffic (the status relay, the
// app's own messages) passes through untouched.

export interface SerializedError {
  name: string
  message: string
  code?: string
  stack?: string
}

/** Child → primary: listening and serving. */
export interface ReadyMessage {
  type: 'fastify-mpm:ready'
  address: { port: number, host: string }
  /** The process's thread pool bounds, or null when the app did not register the plugin. */
  threads: { min: number, max: number } | null
  /** Threads and process slots of all its pools at most (the default and the named ones); absent: `threads.max`. */
  slots?: number
}

/** Child → primary: building the app or listening failed; the child exits next. */
export interface BootFailedMessage {
  type: 'fastify-mpm:boot-failed'
  error: SerializedError
}

/** Child → primary, from the main event loop: still alive (and how many requests so far). */
export interface HeartbeatMessage {
  type: 'fastify-mpm:heartbeat'
  requests: number
}

/** Child → primary: served its maxRequestsPerProcess (+ jitter), or passed its maxProcessMemory (− jitter); please replace me. */
export interface RecycleMessage {
  type: 'fastify-mpm:recycle'
  requests: number
  /** absent: max-requests */
  reason?: RecycleReason
  /** bytes, with max-memory: the RSS that passed the limit, and the limit */
  rss?: number
  limit?: number
}

export type RecycleReason = 'max-requests' | 'max-memory'

/** Child → primary: draining on its own account (it got SIGTERM directly). */
export interface DrainingMessage {
  type: 'fastify-mpm:draining'
  reason: string
}

/** Primary → child: stop accepting, finish in-flight requests, exit 0. */
export interface StopMessage {
  type: 'fastify-mpm:stop'
  reason: string
  /** ms to keep serving, readiness already failing, before closing the listener (shutdownDelay) */
  delay?: number
}

export type ChildMessage = ReadyMessage | BootFailedMessage | HeartbeatMessage | RecycleMessage | DrainingMessage
export type PrimaryMessage = StopMessage

const CHILD_TYPES = new Set(['fastify-mpm:ready', 'fastify-mpm:boot-failed', 'fastify-mpm:heartbeat',
  'fastify-mpm:recycle', 'fastify-mpm:draining'])

export function isChildMessage (value: unknown): value is ChildMessage {
  return value !== null && typeof value === 'object' && CHILD_TYPES.has((value as { type?: unknown }).type as string)
}

export function isStopMessage (value: unknown): value is StopMessage {
  return value !== null && typeof value === 'object' && (value as { type?: unknown }).type === 'fastify-mpm:stop'
}

export function serializeError (err: unknown): SerializedError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return { name: err.name, message: err.message, code: typeof code === 'string' ? code : undefined, stack: err.stack }
  }
  return { name: 'Error', message: String(err) }
}

/** Environment variable carrying the child's configuration (JSON) from the primary. */
export const CHILD_CONFIG_ENV = 'FASTIFY_MPM_CLUSTER'

/** What a child needs to know; set by the primary in the child's environment. */
export interface ChildConfig {
  /** file: URL of the app module */
  app: string
  port: number
  host: string
  /** ms the child may take to drain and exit once asked to stop */
  gracefulTimeout: number
  /** ms it keeps serving, readiness failing, after a SIGTERM of its own before draining */
  shutdownDelay: number
  /** 0 = never recycle */
  maxRequests: number
  maxRequestsJitter: number
  /** bytes of RSS past which to ask for a replacement; 0 = never */
  maxMemory: number
  maxMemoryJitter: number
  /** ms between heartbeats; 0 = none */
  heartbeatInterval: number
}
