// Each thread's channel to the main thread: log lines as handlers write them, the answers of
// batch members (batch.ts) and streams' messages (stream-relay.ts), in the order the thread posted them. One long-lived BroadcastChannel
// per thread slot, so a line survives a handler that later times out or kills its thread. Lines
// go to the logger of the request that wrote them: kept here by task id until all the lines the
// task wrote before it ended have arrived, found through its batch while that runs, and for a
// line written later (a timer), a child of the pool's logger with the line's request id.

import { BroadcastChannel, receiveMessageOnPort } from 'node:worker_threads'
import { loggerAt } from './log-time.js'
import { decodeLogArgs, LEVELS, type BatchAnswer, type LogLine, type StreamMessage } from './marshal.js'

type LogMethod = (obj: unknown, msg?: string) => void
export interface LoggerLike {
  trace: LogMethod, debug: LogMethod, info: LogMethod, warn: LogMethod, error: LogMethod, fatal: LogMethod
  levelVal?: number
  /** A logger made on first use (a per-request child) gives the real one here, so lines keep their time. */
  resolve?: () => LoggerLike
}
type WithChild = LoggerLike & { child?: (bindings: Record<string, unknown>) => LoggerLike }

interface LogSink { log: LoggerLike | undefined, received: number, expected: number }

/** What the pool tells the channels about batches: where answers go, and a member's logger. */
export interface BatchHooks {
  answer: (answer: BatchAnswer) => void
  /** The logger of task `taskId` in batch `key`, while that batch runs. */
  logger: (key: number, taskId: number) => LoggerLike | undefined
  /** A streamed response's or a streamed-in body's message (stream-relay.ts). */
  stream: (message: StreamMessage) => void
}

/** How long a finished task's logger waits for lines still on their way. */
const LOG_GRACE_MS = 1000

export class ThreadChannels {
  readonly #channels: BroadcastChannel[] = []
  readonly #sinks = new Map<number, LogSink>()
  readonly #fallback: LoggerLike
  readonly #batch: BatchHooks
  readonly #reqIdLabel: string

  /**
   * One channel per thread slot: thread `workerId` posts on `${prefix}:${workerId}`. `fallback`
   * takes lines nobody expects; `reqIdLabel` is the binding its request loggers name the id by.
   */
  constructor (prefix: string, slots: number, fallback: LoggerLike, batch: BatchHooks, reqIdLabel = 'reqId') {
    this.#fallback = fallback
    this.#batch = batch
    this.#reqIdLabel = reqIdLabel
    for (let id = 1; id <= slots; id++) {
      const channel = new BroadcastChannel(`${prefix}:${id}`)
      // Once woken, take every message already queued on the channel, not one event each.
      channel.onmessage = (event) => {
        this.#onMessage((event as { data: LogLine | BatchAnswer | StreamMessage }).data)
        this.#drain(channel)
      }
      ;channel.unref()
      this.#channels.push(channel)
    }
  }

  /**
   * The task's log lines go to `log` (lines of tasks nobody expects go to the pool's logger).
   * Not needed for batch members: their lines name their batch.
   */
  expect (taskId: number, log: LoggerLike): void {
    this.#sinks.set(taskId, { log, received: 0, expected: -1 })
  }

  /** The task ended having written `lines` lines: keep its logger until they have all arrived. */
  settle (taskId: number, lines: number): void {
    const sink = this.#sinks.get(taskId)
    if (sink === undefined) return
    if (sink.received >= lines) {
      this.#forget(taskId, sink)
      return
    }
    sink.expected = lines
    setTimeout(() => this.#forget(taskId, sink), LOG_GRACE_MS).unref()
  }

  /**
   * A Map keeps a deleted entry's value until it is rehashed, and the scavenger keeps alive what
   * that value reaches: the sink lets go of the request's logger as it leaves.
   */
  #forget (taskId: number, sink: LogSink): void {
    this.#sinks.delete(taskId)
    sink.log = undefined
  }

  /**
   * Handles every message already posted, at once. A message is queued on the receiving side the
   * moment the thread posts it, so after a thread returned or died this reads all it sent.
   */
  drainAll (): void { for (const channel of this.#channels) this.#drain(channel) }

  /** A message that came another way: a child process's IPC channel (process-pool.ts). */
  receive (message: LogLine | BatchAnswer): void { this.#onMessage(message) }

  close (): void {
    for (const channel of this.#channels) channel.close()
    // A closed channel cannot be read: later drains have nothing to do.
    this.#channels.length = 0
  }

  #drain (channel: BroadcastChannel): void {
    let entry: { message: unknown } | undefined
    while ((entry = receiveMessageOnPort(channel as never)) !== undefined) this.#onMessage(entry.message as LogLine | BatchAnswer | StreamMessage)
  }

  #onMessage (message: LogLine | BatchAnswer | StreamMessage): void {
    if ('s' in message) {
      this.#batch.stream(message)
      return
    }
    if ('a' in message) {
      this.#batch.answer(message)
      return
    }
    if (message.b !== undefined) {
      writeLog(this.#batch.logger(message.b, message.i) ?? this.#late(message), message)
      return
    }
    const sink = this.#sinks.get(message.i)
    writeLog(sink?.log ?? this.#late(message), message)
    if (sink === undefined) return
    sink.received++
    if (sink.expected >= 0 && sink.received >= sink.expected) this.#forget(message.i, sink)
  }

  /**
   * A line whose request's logger is gone: written after its task ended (a timer, a promise).
   * It goes where that logger would have written it, a child with the request's id. (A framework's
   * own request logger may carry more bindings; such late lines are rare.)
   */
  #late (line: LogLine): LoggerLike {
    const parent = this.#fallback as WithChild
    if (line.r === undefined || typeof parent.child !== 'function') return parent
    return parent.child({ [this.#reqIdLabel]: line.r })
  }
}

/** Writes a line with the logger's method for its level, at the time the handler wrote it. */
export function writeLog (log: LoggerLike, line: LogLine): void {
  const method = LEVELS[line.l] ?? 'info'
  const [obj, msg] = decodeLogArgs(line)
  loggerAt(log.resolve?.() ?? log, line.t)[method](obj, msg)
}
