// Starts the tinypool that owns a pool's threads, with the options every fastify-mpm thread
// needs: the thread entry, piscina's switch that keeps threads out of Atomics.wait, and the
// preload that spares tinypool's per-task process.memoryUsage() (thread-preload.cts).

import Tinypool from 'tinypool'
import type { ResourceLimits } from 'node:worker_threads'
import type { ThreadData } from './thread.js'

const THREAD_ENTRY = new URL('./thread.js', import.meta.url)
const PRELOAD = new URL('./thread-preload.cjs', import.meta.url)

export interface StartOptions {
  minThreads: number
  maxThreads: number
  idleTimeout: number
  resourceLimits: ResourceLimits | undefined
  workerData: ThreadData
}

export function startTinypool (options: StartOptions): Tinypool {
  const base = {
    filename: THREAD_ENTRY.href,
    minThreads: options.minThreads,
    maxThreads: options.maxThreads,
    idleTimeout: options.idleTimeout,
    resourceLimits: options.resourceLimits,
    // Half of tinypool's atomics: the main thread still collects every finished answer in one
    // pass (receiveMessageOnPort) instead of one port event each, but threads never block in
    // Atomics.wait between tasks, where timers and async work a handler leaves behind (and
    // log lines posted from them) would never run. tinypool's worker honours piscina's switch.
    useAtomics: true,
    env: { ...process.env, PISCINA_DISABLE_ATOMICS: '1' } as Record<string, string>,
    workerData: options.workerData
  }
  // A thread inherits the process's execArgv unless given its own, so the preload comes after
  // them. Node refuses process-wide flags there (--max-old-space-size, --stack-size…): with
  // those, the threads start as they did before, without the preload. The refusal is thrown
  // by the first thread's constructor, which runs here only when minThreads > 0.
  const execArgv = [...process.execArgv, '--require', PRELOAD.pathname]
  if (process.execArgv.length === 0) return new Tinypool({ ...base, execArgv })
  if (options.minThreads > 0) {
    try {
      return new Tinypool({ ...base, execArgv })
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw err
    }
  }
  return new Tinypool(base)
}
