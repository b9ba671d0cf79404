// Worker MPMs whose framework has no close sequence of its own to hook into (Express): they
// register here, so the cluster child can get them ready before it listens, hand them its server
// (connection counts) and its kill deadline, and close them after its server, with no code in
// the app. Fastify's plugin closes with the app instead and does not register.

import type { Server } from 'node:http'

export interface Standalone {
  /** Loads every offloaded module once, so a missing file or export fails the boot. */
  ready: () => Promise<void>
  /** Counts this server's requests and connections on the status page. */
  attach: (server: Server) => void
  /** Tasks still running then are answered 503 (Connection: close) before the kill. */
  closeBefore: (deadline: number) => void
  close: () => Promise<void>
  readonly retryAfter: number
  readonly threads: { min: number, max: number }
  /** Threads and process slots of all its pools at most (oversubscription.ts). */
  readonly slots: number
}

const standalone = new Set<Standalone>()

export function registerStandalone (mpm: Standalone): () => void {
  standalone.add(mpm)
  return () => { standalone.delete(mpm) }
}

export function standaloneMpms (): Standalone[] { return [...standalone] }
