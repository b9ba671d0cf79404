// The `req` a handler sees: the request's plain copy (RequestData) plus `req.log` and
// `req.signal`, each made the first time the handler reads it. Most handlers read neither, and
// making both for every request (a logger of seven closures, an accessor defined on the copy)
// was a fifth of a trivial route's time in its thread (bench/FINDINGS.md). The two live on the
// class, so the request's own fields are exactly the copied ones, as before, and what a task
// needs to build them is held privately, out of reach of spread, JSON or Object.keys().

import type { LogLine, RequestData } from './marshal.js'
import { encodeLogArgs } from './marshal.js'
import type { OffloadLogger } from './types.js'

/** Where a task's log lines go: posted to the main thread, or straight to a logger when inline. */
export type LogWriter = (line: LogLine) => void

/** `req.signal` for a task, made when the handler first reads it. */
export type SignalSource = (taskId: number) => AbortSignal

const LEVEL_VALUES = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const

/** What a task's `req.log` and `req.signal` are made from, and the count of lines it wrote. */
export class TaskContext {
  lines = 0
  log: OffloadLogger | undefined
  signal: AbortSignal | undefined
  constructor (readonly taskId: number, readonly threshold: number, readonly write: LogWriter, readonly signalOf: SignalSource | undefined) {}
}

export class ThreadRequest implements RequestData {
  id: string
  method: string
  url: string
  params: unknown
  query: unknown
  headers: Record<string, string | string[] | undefined>
  body: unknown
  ip: string
  hostname: string
  readonly #task: TaskContext

  constructor (data: RequestData, task: TaskContext) {
    this.id = data.id
    this.method = data.method
    this.url = data.url
    this.params = data.params
    this.query = data.query
    this.headers = data.headers
    this.body = data.body
    this.ip = data.ip
    this.hostname = data.hostname
    this.#task = task
  }

  get log (): OffloadLogger {
    const task = this.#task
    return (task.log ??= makeLogger(task, undefined))
  }

  // A handler may put its own logger in place, as it may on a Fastify request.
  set log (log: OffloadLogger) { this.#task.log = log }

  /** Aborts when the client goes away or the task times out; no setter, as Fastify's. */
  get signal (): AbortSignal {
    const task = this.#task
    if (task.signalOf === undefined) return undefined as never
    return (task.signal ??= task.signalOf(task.taskId))
  }
}

function makeLogger (task: TaskContext, bindings: Record<string, unknown> | undefined): OffloadLogger {
  const log = { child: (more: Record<string, unknown>) => makeLogger(task, { ...bindings, ...more }) } as OffloadLogger
  for (const [name, level] of Object.entries(LEVEL_VALUES)) {
    (log as unknown as Record<string, unknown>)[name] = level < task.threshold
      ? noop
      : (...args: unknown[]) => {
          if (bindings !== undefined) args = typeof args[0] === 'object' && args[0] !== null ? [{ ...bindings, ...args[0] }, ...args.slice(1)] : [bindings, ...args]
          task.lines++
          task.write(encodeLogArgs({ i: task.taskId, l: level, t: Date.now() }, args))
        }
  }
  return log
}
function noop (): void {}
