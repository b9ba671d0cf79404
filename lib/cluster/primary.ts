// The primary (Puma's Cluster, Gunicorn's Arbiter): forks the children, keeps their number,
// replaces them one at a time on reload and recycle, respawns crashes with backoff, kills the
// silent ones, and stops them all gracefully. It serves no request itself.

import nodeCluster from 'node:cluster'
import { EventEmitter } from 'node:events'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { THREADS_ENV } from '../core/options.js'
import { installStatusRelay, type ChildSummary } from '../status/relay.js'
import { FST_MPM_CLUSTER_STOPPED, FST_MPM_CRASH_LOOP, FST_MPM_RELOAD_FAILED } from './errors.js'
import { CHILD_CONFIG_ENV, type ChildConfig, type ChildMessage, type RecycleReason } from './messages.js'
import { formatThreads, type ResolvedClusterOptions } from './options.js'
import { oversubscription } from '../core/oversubscription.js'
import { childExecArgv } from './typescript.js'
import { WorkerHandle, type ExitInfo, type ForkReason } from './worker-handle.js'

const CHILD_ENTRY = fileURLToPath(new URL('./child-entry.js', import.meta.url))

/** A process that dies before it has been up this long is crashing, not just crashed (pm2 min_uptime). */
const MIN_UPTIME_MS = 5000
/** This many such crashes in a row is a crash loop: stop instead of forking forever. */
const CRASH_LOOP_LIMIT = 5
const MAX_BACKOFF_MS = 10_000

export interface ClusterAddress {
  host: string
  port: number
  /** e.g. http://127.0.0.1:3000 */
  url: string
}

export interface StopResult {
  /** 0 after a requested stop, 1 after a failed start or a crash loop */
  exitCode: number
  reason: string
}

export interface ReloadResult {
  /** pids of the processes serving once the reload finished */
  pids: number[]
}

export interface ExitEvent extends ExitInfo {
  reason: string
}

/** What the handle emits, as `handle.on(event, listener)`. */
export interface ClusterEvents {
  /** A child was forked (why: start, reload, respawn, recycle, scale). */
  fork: [child: ChildSummary, reason: ForkReason]
  /** A child listens. */
  ready: [child: ChildSummary]
  /** A child exited; `reason` says why (reload, stop, crash, heartbeat, max-requests, scale…). */
  exit: [child: ChildSummary, exit: ExitEvent]
  /** Every child of the first start listens. */
  listening: [address: ClusterAddress]
  reload: [result: ReloadResult]
  /** New code failed to boot; the old processes keep serving. */
  'reload-failed': [err: Error]
  /** A child served maxRequestsPerProcess (+ jitter) or passed maxProcessMemory (− jitter), and its replacement listens. */
  recycle: [child: ChildSummary, requests: number, reason: RecycleReason]
  /** A child's event loop was silent past heartbeatTimeout; it is being killed. */
  unresponsive: [child: ChildSummary, silentMs: number]
  /** Children kept dying right after starting; the cluster is stopping. */
  'crash-loop': [err: Error]
  stop: [result: StopResult]
}

/** The running cluster, in the primary. */
export interface ClusterHandle extends EventEmitter<ClusterEvents> {
  readonly address: ClusterAddress
  /** The number of processes the cluster keeps. */
  readonly processes: number
  /** Replacements since start: crashes, heartbeat kills, recycles. */
  readonly restarts: number
  /** Settles when the cluster has stopped (signal, stop(), failed start, crash loop). */
  readonly stopped: Promise<StopResult>
  children: () => ChildSummary[]
  /** Replaces every process, one at a time, each new one listening before an old one stops. */
  reload: () => Promise<ReloadResult>
  /** Grows or shrinks to `n` processes; the removed ones stop gracefully (oldest first). */
  scale: (n: number) => Promise<void>
  /** Stops accepting, lets in-flight requests finish (gracefulTimeout), then kills what is left. */
  stop: () => Promise<void>
}

type State = 'starting' | 'running' | 'stopping' | 'stopped'

export class Primary extends EventEmitter<ClusterEvents> implements ClusterHandle {
  readonly options: ResolvedClusterOptions
  readonly startedAt = Date.now()
  /** Settles when the cluster has stopped (signal, stop(), failed start, crash loop). */
  readonly stopped: Promise<StopResult>
  readonly #children = new Map<number, WorkerHandle>()
  readonly #log: ResolvedClusterOptions['logger']
  readonly #execArgv: string[]
  readonly #respawns = new Set<NodeJS.Timeout>()
  readonly #signalHandlers = new Map<NodeJS.Signals, () => void>()
  #resolveStopped!: (result: StopResult) => void
  #state: State = 'starting'
  #desired: number
  #port: number
  #ops: Promise<unknown> = Promise.resolve()
  #unstableCrashes = 0
  #restarts = 0
  readonly #recycles: Record<RecycleReason, number> = { 'max-requests': 0, 'max-memory': 0 }
  #exitCode = 0
  #stopping: Promise<void> | undefined
  #watchdog: NodeJS.Timeout | undefined
  #removeRelay: (() => void) | undefined

  constructor (options: ResolvedClusterOptions) {
    super()
    this.options = options
    this.#log = options.logger
    this.#desired = options.processes
    this.#port = options.port
    this.#execArgv = childExecArgv(options.app)
    this.stopped = new Promise((resolve) => { this.#resolveStopped = resolve })
  }

  get address (): ClusterAddress {
    const host = this.options.host
    return { host, port: this.#port, url: `http://${host.includes(':') ? `[${host}]` : host}:${this.#port}` }
  }

  /** The number of processes the cluster keeps. */
  get processes (): number { return this.#desired }

  /** Replacements since start: crashes, heartbeat kills, recycles. */
  get restarts (): number { return this.#restarts }

  children (): ChildSummary[] {
    return [...this.#children.values()].map((c) => c.summary())
  }

  async start (): Promise<void> {
    this.#removeRelay = installStatusRelay({
      startedAt: this.startedAt,
      restarts: () => this.#restarts,
      recycles: () => ({ ...this.#recycles }),
      children: () => this.children()
    })
    if (this.options.signals) this.#installSignals()
    const handles = Array.from({ length: this.#desired }, () => this.#fork('start'))
    try {
      // The first failure ends the start: the others are stopped, nothing is forked again.
      await Promise.all(handles.map(async (h) => await h.ready))
    } catch (err) {
      if (this.#state === 'starting') {
        // The processes still booting serve nothing yet: kill them rather than ask them to close.
        // A child that closes its server while node:cluster's listen is still pending crashes
        // inside Node (listenOnPrimaryHandle: "Cannot read properties of null (reading
        // 'close')") and prints that trace before our own line.
        for (const child of this.#children.values()) if (child.state === 'booting') child.kill('boot-failure')
        this.#exitCode = 1
        this.#log.error({ pid: process.pid, reason: 'boot-failure', err },
          `start failed: ${(err as Error).message}`)
        await this.stop('boot-failure')
        throw err
      }
    }
    if (this.#state !== 'starting') {
      await this.#stopping
      throw new FST_MPM_CLUSTER_STOPPED('start')
    }
    this.#state = 'running'
    const { url } = this.address
    this.#log.info({
      pid: process.pid, processes: this.#desired, threads: formatThreads(this.options.threads), url
    }, `listening on ${url}`)
    // Each process's own pool sizes, as it reported them (every pool's slots added up): options
    // given in the app win over --threads, and named pools come on top of the default one.
    const warning = oversubscription([...this.#children.values()].map((c) => c.slots), availableParallelism())
    if (warning !== undefined) this.#log.warn({ pid: process.pid, cores: availableParallelism(), reason: 'oversubscribed' }, warning)
    this.emit('listening', this.address)
    this.#startWatchdog()
  }

  /** Replaces every process, one at a time, each new one listening before an old one stops. */
  async reload (): Promise<ReloadResult> {
    if (this.#state !== 'running') throw new FST_MPM_CLUSTER_STOPPED('reload')
    return await this.#enqueue(async () => await this.#reload())
  }

  /** Grows or shrinks to `n` processes; the removed ones stop gracefully (oldest first). */
  async scale (n: number): Promise<void> {
    if (!Number.isInteger(n) || n < 1) throw new TypeError(`fastify-mpm: scale(n): n must be an integer >= 1, got ${JSON.stringify(n)}`)
    if (this.#state !== 'running') throw new FST_MPM_CLUSTER_STOPPED('scale')
    this.#desired = n
    await this.#enqueue(async () => await this.#scale(n))
  }

  /** Stops accepting, lets in-flight requests finish (gracefulTimeout), then kills what is left. */
  async stop (reason = 'stop()'): Promise<void> {
    this.#stopping ??= this.#stop(reason)
    await this.#stopping
  }

  // -- lifecycle of one child --

  #fork (reason: ForkReason): WorkerHandle {
    const o = this.options
    const config: ChildConfig = {
      app: o.app,
      // While any child listens, port 0 stays the same shared random port: node:cluster keys the
      // listening handle by the requested address, so every child must ask for the same one.
      port: o.port,
      host: o.host,
      gracefulTimeout: o.gracefulTimeout,
      shutdownDelay: o.shutdownDelay,
      maxRequests: o.maxRequestsPerProcess,
      maxRequestsJitter: o.maxRequestsJitter,
      maxMemory: o.maxProcessMemory,
      maxMemoryJitter: o.maxProcessMemoryJitter,
      heartbeatInterval: o.heartbeatTimeout > 0 ? Math.max(50, Math.min(5000, Math.floor(o.heartbeatTimeout / 4))) : 0
    }
    nodeCluster.setupPrimary({ exec: CHILD_ENTRY, args: [], execArgv: this.#execArgv })
    const worker = nodeCluster.fork({ [CHILD_CONFIG_ENV]: JSON.stringify(config), [THREADS_ENV]: formatThreads(o.threads) })
    const handle = new WorkerHandle(worker, reason, o.bootTimeout, (h, msg) => this.#onMessage(h, msg), (h) => {
      this.#log.warn({ pid: h.pid, workerId: h.id, gracefulTimeout: o.gracefulTimeout, reason: h.endReason },
        `process still busy after gracefulTimeout (${o.gracefulTimeout} ms); killing it`)
    })
    this.#children.set(handle.id, handle)
    worker.once('exit', (code: number | null, signal: NodeJS.Signals | null) => this.#onExit(handle, { code, signal }))
    this.#log.info({ pid: handle.pid, workerId: handle.id, reason }, 'process forked')
    this.emit('fork', handle.summary(), reason)
    handle.ready.then((msg) => {
      if (msg.address.port !== this.#port) {
        if (this.#port !== 0 && this.#port !== o.port) {
          this.#log.warn({ pid: handle.pid, port: msg.address.port, previous: this.#port }, 'the port changed: every process had exited, and port 0 picks a new one')
        }
        this.#port = msg.address.port
      }
      this.#log.info({ pid: handle.pid, workerId: handle.id, threads: formatThreads(msg.threads), reason }, 'process ready')
      this.emit('ready', handle.summary())
      if (reason === 'respawn') {
        // Surviving MIN_UPTIME after a respawn means the crashes are no longer a loop.
        setTimeout(() => { if (handle.isAlive) this.#unstableCrashes = 0 }, MIN_UPTIME_MS).unref()
      }
    }, () => {})
    return handle
  }

  #onMessage (handle: WorkerHandle, msg: ChildMessage): void {
    if (msg.type === 'fastify-mpm:recycle') {
      if (this.#state !== 'running' || handle.state !== 'ready') return
      const reason = msg.reason ?? 'max-requests'
      if (reason === 'max-memory') {
        this.#log.info({ pid: handle.pid, workerId: handle.id, rss: msg.rss, limit: msg.limit, reason },
          `recycling process: its RSS (${mb(msg.rss)} MB) passed its limit (${mb(msg.limit)} MB)`)
      } else {
        this.#log.info({ pid: handle.pid, workerId: handle.id, requests: msg.requests, reason },
          `recycling process after ${msg.requests} requests`)
      }
      void this.#enqueue(async () => await this.#recycle(handle, reason)).catch(() => {})
    } else if (msg.type === 'fastify-mpm:draining') {
      handle.markDraining(msg.reason, this.options.gracefulTimeout + this.options.shutdownDelay)
      if (this.#state === 'running') {
        this.#log.warn({ pid: handle.pid, workerId: handle.id, reason: msg.reason }, `process draining on its own (${msg.reason}); it will be replaced`)
      }
    }
  }

  #onExit (handle: WorkerHandle, exit: ExitInfo): void {
    this.#children.delete(handle.id)
    const wasReady = handle.readyAt > 0
    const reason = handle.endReason ?? handle.childReason ?? (wasReady ? 'crash' : 'boot-failure')
    const uptimeMs = wasReady ? Date.now() - handle.readyAt : 0
    const planned = handle.endReason !== undefined && handle.endReason !== 'heartbeat' && handle.endReason !== 'boot-timeout'
    const line = { pid: handle.pid, workerId: handle.id, code: exit.code, signal: exit.signal, reason, uptimeMs }
    if (planned || (handle.childReason !== undefined && exit.code === 0)) this.#log.info(line, 'process exited')
    else this.#log.error(line, `process exited unexpectedly (${exit.signal ?? `code ${String(exit.code)}`})`)
    this.emit('exit', handle.summary(), { ...exit, reason })

    if (this.#state !== 'running' && this.#state !== 'starting') return
    // Reload, recycle, scale and stop handle the ends they asked for, and the boot failures of
    // the processes they forked; everything else leaves a hole to fill.
    if (planned) return
    if (!wasReady && handle.forkReason !== 'respawn') return
    if (this.#state === 'starting' && !wasReady) return

    if (handle.childReason !== undefined && exit.code === 0) {
      this.#respawn(0, reason)
      return
    }
    this.#restarts++
    const unstable = !wasReady || uptimeMs < MIN_UPTIME_MS
    if (!unstable) {
      this.#respawn(0, reason)
      return
    }
    this.#unstableCrashes++
    if (this.#unstableCrashes >= CRASH_LOOP_LIMIT) {
      const err = new FST_MPM_CRASH_LOOP(this.#unstableCrashes, MIN_UPTIME_MS)
      this.#exitCode = 1
      this.#log.error({ pid: process.pid, crashes: this.#unstableCrashes, reason: 'crash-loop' },
        `crash loop: ${this.#unstableCrashes} processes in a row died within ${MIN_UPTIME_MS} ms of starting; stopping`)
      this.emit('crash-loop', err)
      void this.stop('crash-loop')
      return
    }
    this.#respawn(Math.min(MAX_BACKOFF_MS, 250 * 2 ** (this.#unstableCrashes - 1)), reason)
  }

  #respawn (delayMs: number, reason: string): void {
    this.#log.info({ pid: process.pid, delayMs, reason }, `respawning a process in ${delayMs} ms`)
    const timer = setTimeout(() => {
      this.#respawns.delete(timer)
      if (this.#state === 'running' || this.#state === 'starting') this.#fork('respawn')
    }, delayMs)
    this.#respawns.add(timer)
  }

  // -- operations: one at a time --

  #enqueue<T> (op: () => Promise<T>): Promise<T> {
    const run = this.#ops.then(op)
    this.#ops = run.catch(() => {})
    return run
  }

  async #reload (): Promise<ReloadResult> {
    const old = [...this.#children.values()].filter((c) => c.state !== 'stopping')
    const began = Date.now()
    this.#log.info({ pid: process.pid, processes: old.length, reason: 'reload' }, 'reload started')
    for (const previous of old) {
      if (this.#state !== 'running') throw new FST_MPM_CLUSTER_STOPPED('reload')
      if (!this.#children.has(previous.id) || previous.state === 'stopping') continue
      const fresh = this.#fork('reload')
      try {
        await fresh.ready
      } catch (cause) {
        if (this.#state !== 'running') throw new FST_MPM_CLUSTER_STOPPED('reload')
        const err = Object.assign(new FST_MPM_RELOAD_FAILED((cause as Error).message), { bootError: cause })
        this.#log.error({ pid: fresh.pid, reason: 'reload-failed', err: cause }, err.message)
        this.emit('reload-failed', err)
        throw err
      }
      await previous.stop('reload', this.options.gracefulTimeout)
    }
    if (this.#state !== 'running') throw new FST_MPM_CLUSTER_STOPPED('reload')
    const pids = this.children().filter((c) => c.state !== 'stopping').map((c) => c.pid)
    this.#log.info({ pid: process.pid, pids, durationMs: Date.now() - began, reason: 'reload' }, 'reload finished')
    this.emit('reload', { pids })
    return { pids }
  }

  async #recycle (previous: WorkerHandle, reason: RecycleReason): Promise<void> {
    if (this.#state !== 'running' || !this.#children.has(previous.id) || previous.state !== 'ready') return
    const fresh = this.#fork('recycle')
    try {
      await fresh.ready
    } catch (err) {
      if (this.#state === 'running') {
        this.#log.error({ pid: previous.pid, reason: 'recycle-failed', err },
          `recycle stopped, the old process keeps serving: ${(err as Error).message}`)
      }
      return
    }
    this.#restarts++
    this.#recycles[reason]++
    this.emit('recycle', previous.summary(), previous.requests, reason)
    await previous.stop(reason, this.options.gracefulTimeout)
  }

  async #scale (n: number): Promise<void> {
    if (this.#state !== 'running') throw new FST_MPM_CLUSTER_STOPPED('scale')
    const live = [...this.#children.values()].filter((c) => c.state !== 'stopping')
    const current = live.length + this.#respawns.size
    if (n === current) return
    this.#log.info({ pid: process.pid, from: current, to: n, reason: 'scale' }, `scaling from ${current} to ${n} processes`)
    if (n > current) {
      const fresh = Array.from({ length: n - current }, () => this.#fork('scale'))
      const results = await Promise.allSettled(fresh.map(async (h) => await h.ready))
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failed.length > 0 && this.#state === 'running') {
        this.#desired -= failed.length
        this.#log.error({ pid: process.pid, failed: failed.length, reason: 'scale-failed', err: failed[0].reason },
          `scale stopped at ${this.#desired} processes: ${(failed[0].reason as Error).message}`)
      }
      return
    }
    // Pending respawns go first, then the oldest processes (as Gunicorn's TTOU does).
    let excess = current - n
    for (const timer of this.#respawns) {
      if (excess === 0) break
      clearTimeout(timer)
      this.#respawns.delete(timer)
      excess--
    }
    const oldest = live.sort((a, b) => a.startedAt - b.startedAt).slice(0, excess)
    await Promise.all(oldest.map(async (c) => await c.stop('scale', this.options.gracefulTimeout)))
  }

  async #stop (reason: string): Promise<void> {
    this.#state = 'stopping'
    for (const timer of this.#respawns) clearTimeout(timer)
    this.#respawns.clear()
    clearInterval(this.#watchdog)
    // A cluster that never served (failed start, crash loop) has no load balancer to wait for.
    const delay = reason === 'boot-failure' || reason === 'crash-loop' ? 0 : this.options.shutdownDelay
    this.#log.info({ pid: process.pid, processes: this.#children.size, reason, shutdownDelay: delay },
      delay > 0 ? `stopping: readiness fails now, listeners close in ${delay} ms` : 'stopping')
    await Promise.all([...this.#children.values()].map(async (c) => await c.stop(reason, this.options.gracefulTimeout, delay)))
    for (const [signal, handler] of this.#signalHandlers) process.removeListener(signal, handler)
    this.#signalHandlers.clear()
    this.#removeRelay?.()
    this.#state = 'stopped'
    const result: StopResult = { exitCode: this.#exitCode, reason }
    this.#log.info({ pid: process.pid, ...result }, 'stopped')
    this.emit('stop', result)
    this.#resolveStopped(result)
  }

  // -- signals and heartbeat --

  #installSignals (): void {
    const on = (signal: NodeJS.Signals, handler: () => void): void => {
      this.#signalHandlers.set(signal, handler)
      process.on(signal, handler)
    }
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      on(signal, () => {
        // Ctrl-C twice means "now" (as in Puma and Gunicorn); a repeated SIGTERM is often just
        // the same stop delivered to the process group as well, so it does not escalate.
        if (this.#stopping !== undefined) {
          if (signal === 'SIGINT') {
            this.#log.warn({ pid: process.pid, reason: signal }, 'SIGINT again: killing the processes now')
            for (const c of this.#children.values()) c.kill(signal)
          }
          return
        }
        void this.stop(signal)
      })
    }
    on('SIGHUP', () => { this.reload().catch(() => {}) })
    on('SIGTTIN', () => { this.scale(this.#desired + 1).catch(() => {}) })
    on('SIGTTOU', () => {
      if (this.#desired <= 1) {
        this.#log.warn({ pid: process.pid, reason: 'SIGTTOU' }, 'SIGTTOU ignored: one process is the minimum')
        return
      }
      this.scale(this.#desired - 1).catch(() => {})
    })
  }

  #startWatchdog (): void {
    const timeout = this.options.heartbeatTimeout
    if (timeout === 0) return
    const every = Math.max(50, Math.min(1000, Math.floor(timeout / 4)))
    let last = Date.now()
    this.#watchdog = setInterval(() => {
      const now = Date.now()
      const lag = now - last - every
      last = now
      // If the primary itself stalled, the children's heartbeats are still waiting to be read.
      if (lag > timeout / 2) return
      for (const c of this.#children.values()) {
        if (c.state !== 'ready' || c.endReason !== undefined) continue
        const silentMs = now - c.lastCheckIn
        if (silentMs <= timeout) continue
        this.#log.error({ pid: c.pid, workerId: c.id, silentMs, heartbeatTimeout: timeout, reason: 'heartbeat' },
          `process unresponsive: its event loop was silent for ${silentMs} ms (heartbeatTimeout ${timeout} ms); killing it`)
        this.emit('unresponsive', c.summary(), silentMs)
        c.kill('heartbeat')
      }
    }, every)
    this.#watchdog.unref()
  }
}

function mb (bytes: number | undefined): string {
  return bytes === undefined ? '?' : (bytes / 1048576).toFixed(0)
}
