// One child process as the primary sees it (Puma's WorkerHandle): its state, its last check-in,
// and the two ways it ends — asked to stop gracefully, or killed.

import type { Worker } from 'node:cluster'
import type { ChildSummary } from '../status/relay.js'
import { appOrigin } from './error-origin.js'
import { FST_MPM_BOOT_FAILED } from './errors.js'
import { isChildMessage, type ChildMessage, type ReadyMessage, type StopMessage } from './messages.js'

export type ChildState = 'booting' | 'ready' | 'stopping'

/** Why a process was started, or why it ended. */
export type ForkReason = 'start' | 'reload' | 'respawn' | 'recycle' | 'scale'

export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
}

export class WorkerHandle {
  readonly worker: Worker
  readonly id: number
  readonly pid: number
  readonly forkReason: ForkReason
  readonly startedAt = Date.now()
  state: ChildState = 'booting'
  readyAt = 0
  lastCheckIn = Date.now()
  requests = 0
  threads: { min: number, max: number } | null = null
  /** All its pools' slots at most, as it reported them (the default pool's max when it did not). */
  slots = 0
  /** Set when the primary decided this process should end (reload, stop, heartbeat…). */
  endReason: string | undefined
  /** Set when the child started draining on its own (it got SIGTERM directly). */
  childReason: string | undefined
  /** Resolves once the child listens; rejects with FST_MPM_BOOT_FAILED if it cannot. */
  readonly ready: Promise<ReadyMessage>
  readonly exited: Promise<ExitInfo>
  #bootError: Error | undefined
  #killTimer: NodeJS.Timeout | undefined
  #stopAsked = false

  readonly #onGracefulTimeout: (handle: WorkerHandle) => void

  constructor (worker: Worker, forkReason: ForkReason, bootTimeout: number,
    onMessage: (handle: WorkerHandle, msg: ChildMessage) => void, onGracefulTimeout: (handle: WorkerHandle) => void) {
    this.#onGracefulTimeout = onGracefulTimeout
    this.worker = worker
    this.id = worker.id
    this.pid = worker.process.pid ?? -1
    this.forkReason = forkReason

    let resolveReady!: (msg: ReadyMessage) => void
    let rejectReady!: (err: Error) => void
    this.ready = new Promise((resolve, reject) => { resolveReady = resolve; rejectReady = reject })
    // Whoever forked the child awaits `ready`; an unobserved boot failure is handled on exit.
    this.ready.catch(() => {})

    const bootTimer = bootTimeout > 0
      ? setTimeout(() => {
        this.#bootError = new FST_MPM_BOOT_FAILED(String(this.pid), `not listening after bootTimeout (${bootTimeout} ms)`)
        this.kill('boot-timeout')
      }, bootTimeout).unref()
      : undefined

    worker.on('message', (msg: unknown) => {
      if (!isChildMessage(msg)) return
      this.lastCheckIn = Date.now()
      if (msg.type === 'fastify-mpm:ready' && this.state === 'booting') {
        clearTimeout(bootTimer)
        this.state = 'ready'
        this.readyAt = Date.now()
        this.threads = msg.threads
        this.slots = msg.slots ?? msg.threads?.max ?? 0
        resolveReady(msg)
      } else if (msg.type === 'fastify-mpm:boot-failed') {
        let detail = msg.error.code === undefined ? msg.error.message : `${msg.error.message} (${msg.error.code})`
        const origin = appOrigin(msg.error.stack)
        if (origin !== undefined) detail += ` (at ${origin})`
        // The child's own error (with its stack) rides along; not as `cause`, whose message
        // loggers would append a second time.
        this.#bootError ??= Object.assign(new FST_MPM_BOOT_FAILED(String(this.pid), detail), { childError: msg.error })
      } else if (msg.type === 'fastify-mpm:heartbeat' || msg.type === 'fastify-mpm:recycle') {
        this.requests = msg.requests
      }
      onMessage(this, msg)
    })
    // EPIPE and the like when the child is already gone: its 'exit' tells the story.
    worker.on('error', () => {})

    this.exited = new Promise((resolve) => {
      worker.once('exit', (code: number | null, signal: NodeJS.Signals | null) => {
        clearTimeout(bootTimer)
        clearTimeout(this.#killTimer)
        if (this.state === 'booting') {
          const how = signal !== null ? `signal ${signal}` : `code ${String(code)}`
          rejectReady(this.#bootError ?? new FST_MPM_BOOT_FAILED(String(this.pid), `exited with ${how} before listening`))
        }
        resolve({ code, signal })
      })
    })
  }

  get isAlive (): boolean { return this.worker.process.exitCode === null && this.worker.process.signalCode === null }

  /**
   * Asks the child to stop accepting, finish in-flight requests and exit; SIGTERM if the IPC
   * channel is gone; SIGKILL if it is still there after `gracefulTimeout`.
   */
  async stop (reason: string, gracefulTimeout: number, delay = 0): Promise<ExitInfo> {
    this.endReason ??= reason
    this.state = 'stopping'
    if (!this.#stopAsked) {
      this.#stopAsked = true
      if (this.worker.isConnected()) {
        const msg: StopMessage = { type: 'fastify-mpm:stop', reason, ...(delay > 0 ? { delay } : {}) }
        this.worker.send(msg)
      } else {
        this.worker.process.kill('SIGTERM')
      }
    }
    // The delay is spent serving, not draining: it does not eat into gracefulTimeout.
    this.#armKillTimer(gracefulTimeout + delay)
    return await this.exited
  }

  /** The child is draining on its own account (it got SIGTERM directly); it still gets only gracefulTimeout. */
  markDraining (reason: string, gracefulTimeout: number): void {
    this.state = 'stopping'
    this.childReason = reason
    this.#armKillTimer(gracefulTimeout)
  }

  #armKillTimer (gracefulTimeout: number): void {
    if (this.#killTimer !== undefined) return
    this.#killTimer = setTimeout(() => {
      if (!this.isAlive) return
      this.#onGracefulTimeout(this)
      this.worker.process.kill('SIGKILL')
    }, gracefulTimeout).unref()
  }

  /** SIGKILL now (heartbeat, boot timeout, graceful timeout, second stop signal). */
  kill (reason: string): void {
    this.endReason ??= reason
    if (this.isAlive) this.worker.process.kill('SIGKILL')
  }

  summary (): ChildSummary {
    return { workerId: this.id, pid: this.pid, state: this.state, startedAt: this.startedAt, lastCheckIn: this.lastCheckIn }
  }
}
