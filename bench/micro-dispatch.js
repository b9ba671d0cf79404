#!/usr/bin/env node
// Dispatch cost without HTTP: N trivial tasks, `concurrency` in flight, through a bare tinypool
// and through fastify-mpm's ThreadPool (the built dist/core/pool.js), each variant in a fresh
// process; CPU µs per task is the process's CPU time (main + worker threads) / tasks.
// Steadier than the HTTP figures on a shared machine, and it isolates the pool from Fastify.
//   npm run build && node bench/micro-dispatch.js [--tasks 40000] [--runs 3] [--only a,b]
import { fork } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { markdownTable, median } from './lib/stats.js'

const trivial = new URL('./handlers/trivial.js', import.meta.url).href
const noopLog = { trace () {}, debug () {}, info () {}, warn () {}, error () {}, fatal () {}, levelVal: 30 }
const request = { id: 'req-1', method: 'GET', url: '/trivial', params: {}, query: {}, headers: { host: '127.0.0.1:3000', connection: 'keep-alive' }, body: undefined, ip: '127.0.0.1', hostname: '127.0.0.1:3000' }

const VARIANTS = {
  piscina: { label: 'piscina.run() (piscina 3, fastify-piscina\'s), defaults', make: () => piscina() },
  'tinypool-atomics': { label: 'tinypool.run(), useAtomics: true', make: () => tinypool(true, false) },
  tinypool: { label: 'tinypool.run(), useAtomics: false', make: () => tinypool(false, false) },
  'tinypool-timer': { label: 'tinypool.run(), useAtomics: false, AbortController + timer', make: () => tinypool(false, true) },
  'tinypool-entry': { label: 'tinypool.run(), useAtomics: false, fastify-mpm thread entry', make: () => tinypool(false, false, true) },
  'pool-run-nosignal': { label: 'ThreadPool RunTask, taskTimeout: 0, no log, no signal', make: () => mpmPool({ taskTimeout: 0, log: false, route: false, signal: 'none' }) },
  'pool-run-abortsignal': { label: 'ThreadPool RunTask, taskTimeout: 0, no log, AbortSignal', make: () => mpmPool({ taskTimeout: 0, log: false, route: false, signal: 'abort' }) },
  'pool-run': { label: 'ThreadPool RunTask, taskTimeout: 0, no log', make: () => mpmPool({ taskTimeout: 0, log: false, route: false }) },
  'pool-route-bare': { label: 'ThreadPool RouteTask, taskTimeout: 0, no log', make: () => mpmPool({ taskTimeout: 0, log: false, route: true }) },
  'pool-route-log': { label: 'ThreadPool RouteTask, taskTimeout: 0, log sink', make: () => mpmPool({ taskTimeout: 0, log: true, route: true }) },
  'pool-route': { label: 'ThreadPool RouteTask, taskTimeout 30 s, log sink (offload())', make: () => mpmPool({ taskTimeout: 30_000, log: true, route: true }) }
}

async function piscina () {
  const { default: Piscina } = await import('piscina')
  const pool = new Piscina({ filename: trivial, minThreads: 2, maxThreads: 2, idleTimeout: 30_000 })
  return { run: () => pool.run({ params: {}, query: {} }), close: () => pool.destroy() }
}

async function tinypool (useAtomics, timer, entry = false) {
  const { default: Tinypool } = await import('tinypool')
  const { ThreadClock } = await import('../dist/core/thread-clock.js')
  // entry: tinypool loads fastify-mpm's thread entry (dist/core/thread.js), which runs the handler
  // through invoke(); the task is the RunTask the plugin would send.
  const pool = entry
    ? new Tinypool({ filename: new URL('../dist/core/thread.js', import.meta.url).href, minThreads: 2, maxThreads: 2, idleTimeout: 30_000, useAtomics, workerData: { logChannel: `micro:${process.pid}`, maxTasks: 0, maxHeap: 0, clock: new ThreadClock(2).memory } })
    : new Tinypool({ filename: trivial, minThreads: 2, maxThreads: 2, idleTimeout: 30_000, useAtomics })
  if (entry) return { run: () => pool.run({ k: 1, m: trivial, e: 'default', id: 1, lv: Infinity, p: { params: {}, query: {} } }), close: () => pool.destroy() }
  const run = timer
    ? async (payload) => {
      const ac = new AbortController()
      const t = setTimeout(() => ac.abort(), 30_000)
      try { return await pool.run(payload, { signal: ac.signal }) } finally { clearTimeout(t) }
    }
    : (payload) => pool.run(payload)
  return { run: () => run({ params: {}, query: {} }), close: () => pool.destroy() }
}

async function mpmPool ({ taskTimeout, log, route, signal: kind = 'lite' }) {
  const { ThreadPool } = await import('../dist/core/pool.js')
  const pool = new ThreadPool({ minThreads: 2, maxThreads: 2, maxQueue: 1_000, idleTimeout: 30_000, taskTimeout, maxTasksPerThread: 0, resourceLimits: undefined, log: noopLog })
  // Made only for a task that has to wait for a thread: offload() passes a small object with
  // the three members the queue uses; 'abort' is the AbortSignal it used to pass.
  const signal = kind === 'none' ? () => undefined : kind === 'abort' ? () => new AbortController().signal : () => new LiteSignal()
  const opts = () => log ? { signal: signal(), log: noopLog } : { signal: signal() }
  const task = route
    ? () => ({ k: 0, m: trivial, e: 'default', id: 0, lv: 0, r: { ...request } })
    : () => ({ k: 1, m: trivial, e: 'default', id: 0, lv: 0, p: { params: {}, query: {} } })
  return { run: () => pool.run(task(), opts()), close: () => pool.close() }
}

// What offload() passes instead of an AbortSignal (ResponseGone in lib/offload.ts), minus the
// response it watches: these tasks never abort.
class LiteSignal {
  aborted = false
  listener = undefined
  addEventListener (_type, listener) { this.listener = listener }
  removeEventListener () { this.listener = undefined }
}

async function child (name, tasks, concurrency) {
  const subject = await VARIANTS[name].make()
  const drive = async (n) => {
    let next = 0
    await Promise.all(Array.from({ length: concurrency }, async () => { while (next++ < n) await subject.run() }))
  }
  await drive(Math.min(5_000, tasks)) // warm-up: threads started, modules loaded, JIT done
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await drive(tasks)
  const seconds = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  await subject.close()
  process.send({ tasksPerSec: tasks / seconds, cpuUsPerTask: (cpu.user + cpu.system) / tasks })
}

if (process.env.MICRO_CHILD !== undefined) {
  await child(process.env.MICRO_CHILD, Number(process.env.MICRO_TASKS), Number(process.env.MICRO_CONCURRENCY))
  process.exit(0)
}

const { values } = parseArgs({ options: { tasks: { type: 'string' }, runs: { type: 'string' }, concurrency: { type: 'string' }, only: { type: 'string' } } })
const tasks = Number(values.tasks ?? 40_000)
const runs = Number(values.runs ?? 3)
const concurrency = Number(values.concurrency ?? 10)
const names = values.only?.split(',') ?? Object.keys(VARIANTS)
const results = Object.fromEntries(names.map((n) => [n, []]))
for (let r = 0; r < runs; r++) {
  for (const name of names) {
    const proc = fork(new URL(import.meta.url), [], { env: { ...process.env, MICRO_CHILD: name, MICRO_TASKS: String(tasks), MICRO_CONCURRENCY: String(concurrency) } })
    const [result] = await new Promise((resolve, reject) => { proc.once('message', (m) => resolve([m])); proc.once('exit', (code) => code !== 0 && reject(new Error(`${name} exited ${code}`))) })
    results[name].push(result)
    console.error(`run ${r + 1}/${runs} ${name}: ${result.tasksPerSec.toFixed(0)} tasks/s, ${result.cpuUsPerTask.toFixed(1)} µs CPU/task`)
  }
}
console.log(`\n${tasks} tasks × ${runs} runs, concurrency ${concurrency}, 2 threads; medians\n`)
console.log(markdownTable(
  [{ key: 'tasksPerSec', label: 'tasks/s', digits: 0 }, { key: 'cpuUsPerTask', label: 'CPU µs/task', digits: 1 }],
  names.map((n) => ({ label: VARIANTS[n].label, values: { tasksPerSec: median(results[n].map((x) => x.tasksPerSec)), cpuUsPerTask: median(results[n].map((x) => x.cpuUsPerTask)) } }))))
