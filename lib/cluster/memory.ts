// Memory-based recycling of a cluster child (pm2 max_memory_restart, Passenger max_memory): the
// child watches its own resident set and, past its limit, asks the primary to replace it through
// the same path as maxRequestsPerProcess (the replacement listens before this one drains), so no
// request fails. Each child's limit is lowered by a random jitter so that processes growing at
// the same pace do not all ask at once.

import { randomInt } from 'node:crypto'

/** How often a child reads its RSS: cheap (one syscall), and leaks grow over minutes, not ms. */
export const MEMORY_CHECK_MS = 1000
/** After asking once, ask again only this much later (if the replacement failed to boot, say). */
const ASK_AGAIN_MS = 60_000

/** This child's limit in bytes: the configured one minus a random 0..jitter, never below half of it. */
export function memoryLimit (maxBytes: number, jitterBytes: number): number {
  if (maxBytes <= 0) return 0
  const jitter = Math.min(jitterBytes, Math.floor(maxBytes / 2))
  return maxBytes - (jitter > 0 ? randomInt(0, jitter + 1) : 0)
}

/**
 * Calls `onOver(rss, limit)` when the process's RSS passes `limit` (checked every
 * MEMORY_CHECK_MS); returns a function that stops watching. `limit` 0 watches nothing.
 */
export function watchMemory (limit: number, onOver: (rss: number, limit: number) => void): () => void {
  if (limit <= 0) return () => {}
  let askedAt = 0
  const timer = setInterval(() => {
    const rss = process.memoryUsage.rss()
    if (rss <= limit) return
    const now = Date.now()
    if (askedAt !== 0 && now - askedAt < ASK_AGAIN_MS) return
    askedAt = now
    onOver(rss, limit)
  }, MEMORY_CHECK_MS)
  timer.unref()
  return () => clearInterval(timer)
}
