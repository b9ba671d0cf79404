// The tinypool behind a process-isolated pool (`isolation: 'process'`): the same pool (pool.ts),
// queue and deadlines, but each handler runs in a child process, so a handler that kills its
// process (a segfaulting native addon, abort()) costs only its own request.
//
// Why tinypool's own child_process runtime, and what this adds to it. It holds up where it
// matters: a child that dies mid-task fails that task ("Worker exited unexpectedly") and is
// replaced; an aborted task's child is killed (SIGTERM, SIGKILL a second later), the same path
// as a thread's timeout; retirement works as for threads (a task's answer names the child by pid,
// ThreadLifecycle removes it). What it lacks is added here, without changing tinypool:
// - Serialization 'advanced' (V8's, as structured clone), not the default JSON that would turn a
//   Buffer into `{ type, data }` and throw on a BigInt: each message still crosses a MessagePort
//   in the parent, so an answer arrives exactly as a thread's would.
// - No workerData reaches a child: its settings go in its environment (process-protocol.ts).
// - Log lines and handler-start news go over the child's IPC channel with process.send() beside
//   tinypool's messages: tinypool hands those it does not know to a task's `channel`, which is
//   also told, just before, that the task goes to a child that is up (process-clock.ts).
// - Why a child died: tinypool says only "Worker exited unexpectedly"; the exit code or signal is
//   read off the child, so the request gets 500 FST_MPM_PROCESS_CRASHED "(killed by SIGSEGV)".
// - A request that a MessagePort can carry but V8's serializer cannot (a Blob body) would throw
//   inside tinypool's relay on the parent, uncaught: it fails that request instead.
// A child is a whole Node process (~40 MB, ~50 ms to start), so nothing is shared with it: a
// process pool never batches, and the first task of a child waits for its boot, which its
// timeout does not count (as for threads), up to the same start limit.

import type { ChildProcess } from 'node:child_process'
import Tinypool from 'tinypool'
import type { ResourceLimits } from 'node:worker_threads'
import { FST_MPM_PROCESS_CRASHED } from './errors.js'
import type { LogLine } from './marshal.js'
import { ProcessClock } from './process-clock.js'
import { PROCESS_ENV, TAG, type ChildMessage, type ProcessConfig } from './process-protocol.js'

const PROCESS_ENTRY = new URL('./process-entry.js', import.meta.url)
const PRELOAD = new URL('./thread-preload.cjs', import.meta.url)
const EXITED = 'Worker exited unexpectedly'

export interface ProcessPoolOptions {
  minThreads: number
  maxThreads: number
  idleTimeout: number
  resourceLimits: ResourceLimits | undefined
  config: ProcessConfig
  /** A log line from a child (forwarded to its request's logger). */
  line: (line: LogLine) => void
  /** A child died while running a task (one that dies idle reaches the pool's 'error' listener). */
  exited: () => void
}

/** tinypool's view of one child (its ProcessWorker). */
interface ChildWorker {
  process: ChildProcess
  isTerminating?: boolean
  send: (message: unknown) => void
  emit: (event: string, ...args: unknown[]) => void
}

export class ProcessPool extends Tinypool {
  readonly clock = new ProcessClock()
  readonly #line: (line: LogLine) => void
  readonly #exited: () => void
  readonly #known = new WeakSet<object>()
  /** How the most recent child to die unexpectedly went: read as its task's rejection is handled. */
  #lastDeath = 'reason unknown'

  constructor (options: ProcessPoolOptions) {
    super({
      filename: PROCESS_ENTRY.href,
      runtime: 'child_process',
      serialization: 'advanced',
      minThreads: options.minThreads,
      maxThreads: options.maxThreads,
      idleTimeout: options.idleTimeout,
      // No memory is shared with a child: tinypool's atomics would only poll for nothing.
      useAtomics: false,
      // tinypool gives a child only the environment it is given.
      env: { ...process.env, [PROCESS_ENV]: JSON.stringify(options.config) } as Record<string, string>,
      execArgv: childExecArgv(options.resourceLimits)
    })
    this.#line = options.line
    this.#exited = options.exited
    this.#discover()
  }

  override async run (task: { id?: number }, options: Parameters<Tinypool['run']>[1] = {}): Promise<unknown> {
    const id = task.id
    const channel = {
      // Called by tinypool just before it posts the task to a child that is up.
      onMessage: () => {
        this.#discover()
        if (id !== undefined) this.clock.handed(id)
      },
      postMessage: this.#onChildMessage
    }
    try {
      return await super.run(task, { ...options, channel })
    } catch (err) {
      if ((err as Error)?.message !== EXITED) throw err
      this.#exited()
      throw new FST_MPM_PROCESS_CRASHED(this.#lastDeath)
    } finally {
      if (id !== undefined) this.clock.forget(id)
    }
  }

  // A child that dies while idle is reported on the pool's 'error' event: named as such.
  override emit (event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'error' && (args[0] as Error)?.message === EXITED) args[0] = new FST_MPM_PROCESS_CRASHED(this.#lastDeath)
    return super.emit(event, ...args)
  }

  readonly #onChildMessage = (message: ChildMessage | unknown): void => {
    if (message === null || typeof message !== 'object' || !(TAG in message)) return
    const ours = message as ChildMessage
    if (ours[TAG] === 'l') this.#line(ours.l)
    else if (ours[TAG] === 's') this.clock.mark(ours.s, ours.w === 1)
  }

  /** Watches children tinypool started since the last look: how each dies, and what cannot be sent to it. */
  #discover (): void {
    for (const thread of this.threads) {
      if (this.#known.has(thread)) continue
      this.#known.add(thread)
      const worker = thread as unknown as ChildWorker
      const child = worker.process
      // Before tinypool's own listener, which fails the task (or reports the idle child) at once.
      child.prependListener('exit', (code, signal) => {
        if (worker.isTerminating === true) return
        this.#lastDeath = signal !== null ? `killed by ${signal}` : `exit code ${String(code)}`
      })
      const send = worker.send.bind(worker)
      worker.send = (message) => {
        try {
          send(message)
        } catch (err) {
          // The child never got the task: end it there as a request that cannot be copied
          // (task-failure.ts), and the child with it, since tinypool would wait on it forever.
          const failure = new Error((err as Error)?.message ?? String(err))
          failure.name = 'DataCloneError'
          worker.emit('error', failure)
        }
      }
    }
  }
}

/**
 * A child's Node flags: the server's own (as fork() does), less the inspector's (a second
 * process cannot listen on the same port), with resourceLimits as the V8 flags they stand for
 * (codeRangeSizeMb has none and is not applied), then the preload.
 */
function childExecArgv (limits: ResourceLimits | undefined): string[] {
  const args = process.execArgv.filter((arg) => !/^--inspect(-brk|-port|-wait)?(=|$)/.test(arg))
  if (limits?.maxOldGenerationSizeMb !== undefined) args.push(`--max-old-space-size=${limits.maxOldGenerationSizeMb}`)
  // V8 sizes the young generation at three semi-spaces.
  if (limits?.maxYoungGenerationSizeMb !== undefined) args.push(`--max-semi-space-size=${Math.max(1, Math.round(limits.maxYoungGenerationSizeMb / 3))}`)
  if (limits?.stackSizeMb !== undefined) args.push(`--stack-size=${limits.stackSizeMb * 1024}`)
  args.push('--require', PRELOAD.pathname)
  return args
}
