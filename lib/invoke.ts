// Runs one task's handler and turns whatever happens into an Outcome. Shared by the thread entry
// and by inline mode (`threads: 0`), so both behave the same apart from where they run.

import { performance } from 'node:perf_hooks'
import {
  BodyKind, encodeBody, encodeLogArgs, findUncloneable, serializeError, TaskKind,
  type Headers, type LogLine, type Outcome, type ProbeProblem, type ProbeTask, type RequestData, type Task
} from './marshal.js'
import { exportNames, getHandler, importHandlerModule, pickExport } from './handler-module.js'
import { FST_MPM_NOT_CLONEABLE } from './errors.js'
import type { OffloadLogger, OffloadReply, OffloadRequest } from './types.js'

/** Where a task's log lines go: posted to the main thread, or straight to a logger when inline. */
export type LogWriter = (line: LogLine) => void

const LEVEL_VALUES = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const

function makeLogger (taskId: number, threshold: number, write: LogWriter, counter: { lines: number },
  bindings?: Record<string, unknown>): OffloadLogger {
  const log = { child: (more: Record<string, unknown>) => makeLogger(taskId, threshold, write, counter, { ...bindings, ...more }) } as OffloadLogger
  for (const [name, level] of Object.entries(LEVEL_VALUES)) {
    (log as unknown as Record<string, unknown>)[name] = level < threshold
      ? noop
      : (...args: unknown[]) => {
          if (bindings !== undefined) args = typeof args[0] === 'object' && args[0] !== null ? [{ ...bindings, ...args[0] }, ...args.slice(1)] : [bindings, ...args]
          counter.lines++
          write(encodeLogArgs({ i: taskId, l: level, t: Date.now() }, args))
        }
  }
  return log
}
function noop (): void {}

class Reply implements OffloadReply {
  statusCode: number | undefined = undefined
  headerMap: Headers | undefined = undefined
  code (statusCode: number): this {
    if (!Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) {
      throw new RangeError(`reply.code(): invalid status code ${String(statusCode)}`)
    }
    this.statusCode = statusCode
    return this
  }

  status (statusCode: number): this { return this.code(statusCode) }
  header (name: string, value: string | number | string[]): this {
    (this.headerMap ??= {})[name.toLowerCase()] = value
    return this
  }

  headers (values: Headers): this {
    for (const [name, value] of Object.entries(values)) this.header(name, value)
    return this
  }

  type (contentType: string): this { return this.header('content-type', contentType) }
  getHeader (name: string): string | number | string[] | undefined { return this.headerMap?.[name.toLowerCase()] }
}

export interface Invocation { outcome: Outcome, transfer?: ArrayBuffer }

/**
 * `checkClone` is off inline, where nothing is cloned; in a thread a value structured clone would
 * reject (or quietly strip of its methods) becomes a clear 500 instead of a dead thread.
 */
export async function invoke (task: Task, write: LogWriter, checkClone: boolean): Promise<Invocation> {
  if (task.k === TaskKind.Probe) return { outcome: { ok: true, b: await probe(task), bk: BodyKind.Json, lc: 0 } }
  const counter = { lines: 0 }
  const started = performance.now()
  const reply = task.k === TaskKind.Route ? new Reply() : undefined
  try {
    const fn = await getHandler(task.m, task.e)
    let value: unknown
    if (task.k === TaskKind.Route) {
      const req = task.r as RequestData & { log: OffloadLogger }
      req.log = makeLogger(task.id, task.lv, write, counter)
      if (req.body instanceof Uint8Array && !Buffer.isBuffer(req.body)) {
        req.body = Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength)
      }
      value = await fn(req as OffloadRequest, reply)
    } else {
      value = await fn(task.p)
    }
    const problem = checkClone ? findUncloneable(value) : null
    if (problem !== null) throw new FST_MPM_NOT_CLONEABLE(problem)
    const { b, bk, transfer } = encodeBody(value)
    return { outcome: { ok: true, b, bk, sc: reply?.statusCode, h: reply?.headerMap, lc: counter.lines, d: performance.now() - started }, transfer }
  } catch (err) {
    return { outcome: { ok: false, err: serializeError(err), sc: reply?.statusCode, h: reply?.headerMap, lc: counter.lines, d: performance.now() - started } }
  }
}

async function probe (task: ProbeTask): Promise<ProbeProblem[]> {
  const problems: ProbeProblem[] = []
  for (const [index, { m, e }] of task.mods.entries()) {
    try {
      const ns = await importHandlerModule(m)
      if (pickExport(ns, e) === undefined) problems.push({ index, kind: 'export', message: `no exported function "${e}"`, exports: exportNames(ns) })
    } catch (err) {
      problems.push({ index, kind: 'load', message: (err as Error)?.message ?? String(err), exports: [] })
    }
  }
  return problems
}
