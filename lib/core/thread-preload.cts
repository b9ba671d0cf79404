// Loaded with --require into the pool's threads, before tinypool's worker entry. That entry binds
// process.memoryUsage when it loads and calls it after every task to report heapUsed, which it
// reads only for maxMemoryLimitBeforeRecycle (never set here: maxThreadMemory is checked in
// thread.ts). The call reads RSS from /proc: about half of a thread's busy time on a trivial
// route (bench/FINDINGS.md). So tinypool's entry binds a constant instead, and thread.ts puts the
// real function back the moment it loads, before any handler can see process.memoryUsage.

import { isMainThread, workerData } from 'node:worker_threads'

// A process pool's child (process-pool.ts) is one of ours too: tinypool's child entry does the same.
const ours = (!isMainThread && Array.isArray(workerData) &&
  typeof (workerData[1] as { logChannel?: unknown } | undefined)?.logChannel === 'string' &&
  ((workerData[1] as { logChannel: string }).logChannel).startsWith('fastify-mpm:')) ||
  (isMainThread && process.env.FASTIFY_MPM_PROCESS !== undefined)

if (ours) {
  const real = process.memoryUsage
  const unused = Object.freeze({ rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 })
  ;(globalThis as Record<symbol, unknown>)[Symbol.for('fastify-mpm.memoryUsage')] = real
  process.memoryUsage = Object.assign(function memoryUsage () { return unused }, { rss: real.rss }) as typeof process.memoryUsage
}
