// Cluster-wide status page and metrics over the cluster's IPC channel. A child that receives
// GET /server-status or /metrics asks the primary ('gather'); the primary asks every live child
// ('collect') with a short timeout, and answers ('gathered') with what came back, marking the
// children that did not answer rather than waiting on them. The cluster primary calls
// installStatusRelay once; each app with status or metrics enabled registers a child provider.

import cluster, { type Worker } from 'node:cluster'
import type { ProcessEntry, ProcessSnapshot } from './scoreboard.js'
import type { MetricsJSON, MetricsText } from './metrics.js'

export interface ChildSummary {
  /** node:cluster worker id */
  workerId: number
  pid: number
  state: 'booting' | 'ready' | 'stopping'
  /** ms since epoch */
  startedAt: number
  /** ms since epoch of the last heartbeat */
  lastCheckIn: number
}

export interface PrimaryView {
  /** ms since epoch when the primary started */
  startedAt: number
  /** processes replaced after a crash, heartbeat kill or recycle, since start */
  restarts: () => number
  /** processes recycled, by reason (max-requests, max-memory) */
  recycles?: () => Record<string, number>
  children: () => ChildSummary[]
}

export interface RelayOptions {
  /** ms the primary waits for each child's answer. Default 1000. */
  timeout?: number
}

export const MSG = {
  /** child → primary: gather `what` from every child and answer me */
  gather: 'fastify-mpm:status:gather',
  /** primary → child: send your own `what` */
  collect: 'fastify-mpm:status:collect',
  /** child → primary: here is mine */
  collected: 'fastify-mpm:status:collected',
  /** primary → asking child: here is everyone's */
  gathered: 'fastify-mpm:status:gathered'
} as const

export type What = 'status' | 'metrics'

/** What the primary sends back for 'status'. */
export interface GatheredStatus {
  primary: { pid: number, startedAt: number, restarts: number, recycles?: Record<string, number> }
  processes: ProcessEntry[]
}

interface Message { type: string, id: number, what: What, data?: unknown }

const DEFAULT_TIMEOUT = 1000

function isMessage (value: unknown, type: string): value is Message {
  return value !== null && typeof value === 'object' && (value as { type?: unknown }).type === type &&
    typeof (value as { id?: unknown }).id === 'number'
}

// -- primary ----------------------------------------------------------------------------------------

/** Installs the primary's IPC listeners; returns a function that removes them. */
export function installStatusRelay (view: PrimaryView, opts: RelayOptions = {}): () => void {
  const timeout = opts.timeout ?? DEFAULT_TIMEOUT
  const pending = new Map<number, (data: unknown) => void>()
  let seq = 0

  const ask = async (worker: Worker, what: What): Promise<{ answered: boolean, data?: unknown, reason?: string }> => {
    const id = ++seq
    return await new Promise((resolve) => {
      const timer = setTimeout(() => { pending.delete(id); resolve({ answered: false }) }, timeout)
      pending.set(id, (data) => {
        clearTimeout(timer)
        pending.delete(id)
        resolve(data !== null && data !== undefined ? { answered: true, data } : { answered: false, reason: `${what} not enabled in this process` })
      })
      send(worker, { type: MSG.collect, id, what }, () => { clearTimeout(timer); pending.delete(id); resolve({ answered: false }) })
    })
  }

  const gather = async (what: What): Promise<unknown> => {
    const children = view.children()
    const answers = await Promise.all(children.map(async (child) => {
      const worker = cluster.workers?.[child.workerId]
      if (child.state === 'booting') return { child, answer: { answered: false }, reason: 'booting' }
      if (worker === undefined || !worker.isConnected()) return { child, answer: { answered: false }, reason: 'not connected' }
      const answer = await ask(worker, what)
      return { child, answer, reason: answer.reason ?? `no answer within ${timeout} ms` }
    }))
    if (what === 'metrics') {
      const { aggregateMetrics } = await import('./metrics.js')
      const byState: Record<string, number> = {}
      for (const child of children) byState[child.state] = (byState[child.state] ?? 0) + 1
      return await aggregateMetrics(
        answers.filter((a) => a.answer.answered).map((a) => a.answer.data as MetricsJSON),
        { restarts: view.restarts(), recycles: view.recycles?.() ?? {}, byState, unanswered: answers.filter((a) => !a.answer.answered).length })
    }
    const now = Date.now()
    const processes: ProcessEntry[] = answers.map(({ child, answer, reason }) => {
      if (answer.answered) {
        const snapshot = answer.data as ProcessSnapshot
        // The primary knows a child is being replaced before the child does.
        return child.state === 'stopping' ? { ...snapshot, state: 'stopping', workerId: child.workerId } : { ...snapshot, workerId: child.workerId }
      }
      return {
        answered: false,
        pid: child.pid,
        workerId: child.workerId,
        state: child.state,
        startedAt: child.startedAt,
        uptimeSec: Math.max((now - child.startedAt) / 1000, 0),
        reason
      }
    })
    const status: GatheredStatus = { primary: { pid: process.pid, startedAt: view.startedAt, restarts: view.restarts(), recycles: view.recycles?.() ?? {} }, processes }
    return status
  }

  const onMessage = (worker: Worker, message: unknown): void => {
    if (isMessage(message, MSG.collected)) {
      pending.get(message.id)?.(message.data)
      return
    }
    if (!isMessage(message, MSG.gather)) return
    const { id, what } = message
    gather(what).then(
      (data) => send(worker, { type: MSG.gathered, id, what, data }),
      () => send(worker, { type: MSG.gathered, id, what, data: null }))
  }

  cluster.on('message', onMessage)
  return () => {
    cluster.off('message', onMessage)
    for (const resolve of [...pending.values()]) resolve(null)
  }
}

function send (worker: Worker, message: Message, onError: () => void = () => {}): void {
  try {
    if (!worker.isConnected()) return onError()
    worker.send(message, (err: Error | null) => { if (err !== null && err !== undefined) onError() })
  } catch {
    onError()
  }
}

// -- child --------------------------------------------------------------------------------------

/** What one app in a child process offers the primary. */
export interface ChildProvider {
  snapshot?: (workerId?: number) => ProcessSnapshot
  metrics?: () => Promise<MetricsJSON>
}

const providers: ChildProvider[] = []
const asks = new Map<number, (data: unknown) => void>()
let askSeq = 0
let listening = false

/** True in a node:cluster worker, where the primary may have the whole picture. */
export function inCluster (): boolean {
  return cluster.isWorker && typeof process.send === 'function'
}

/** Registers an app's snapshot and metrics with this process's answer to the primary; returns its removal. */
export function addChildProvider (provider: ChildProvider): () => void {
  providers.push(provider)
  if (inCluster() && !listening) {
    listening = true
    process.on('message', onChildMessage)
  }
  return () => {
    const index = providers.indexOf(provider)
    if (index !== -1) providers.splice(index, 1)
    if (providers.length === 0 && listening) {
      listening = false
      process.off('message', onChildMessage)
      for (const resolve of [...asks.values()]) resolve(null)
    }
  }
}

/** Asks the primary to gather from every child; null when not in a cluster or no answer in `timeoutMs`. */
export async function askPrimary (what: 'status', timeoutMs: number): Promise<GatheredStatus | null>
export async function askPrimary (what: 'metrics', timeoutMs: number): Promise<MetricsText | null>
export async function askPrimary (what: What, timeoutMs: number): Promise<unknown> {
  if (!inCluster() || !listening) return null
  const id = ++askSeq
  return await new Promise((resolve) => {
    const done = (data: unknown): void => { clearTimeout(timer); asks.delete(id); resolve(data ?? null) }
    const timer = setTimeout(done, timeoutMs, null)
    asks.set(id, done)
    childSend({ type: MSG.gather, id, what }, () => done(null))
  })
}

function onChildMessage (message: unknown): void {
  if (isMessage(message, MSG.gathered)) {
    asks.get(message.id)?.(message.data)
    return
  }
  if (!isMessage(message, MSG.collect)) return
  const { id, what } = message
  void collect(what).then(
    (data) => childSend({ type: MSG.collected, id, what, data }),
    () => childSend({ type: MSG.collected, id, what, data: null }))
}

async function collect (what: What): Promise<unknown> {
  // A child normally runs one app; if it runs several, the latest one registered speaks for it.
  for (let i = providers.length - 1; i >= 0; i--) {
    const provider = providers[i]
    if (what === 'status' && provider.snapshot !== undefined) return provider.snapshot(cluster.worker?.id)
    if (what === 'metrics' && provider.metrics !== undefined) return await provider.metrics()
  }
  return null
}

function childSend (message: Message, onError: () => void = () => {}): void {
  try {
    if (process.send === undefined || !process.connected) return onError()
    process.send(message, undefined, {}, (err: Error | null) => { if (err !== null && err !== undefined) onError() })
  } catch {
    onError()
  }
}
