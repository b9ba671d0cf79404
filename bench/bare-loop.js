#!/usr/bin/env node
// Issue 11, point 2: a pure-JavaScript CPU loop (bench/lib/cpu-work.js, BENCH_CPU_KIND=js) in N
// threads of one process vs N processes, no HTTP, no pool: each worker runs `--calls` calls as
// fast as it can. Reports ms per call (wall, median over workers), CPU ms per call (the whole
// process tree's CPU time / calls) and GC events per call (a PerformanceObserver in each worker).
// Each variant runs in a fresh process started with the variant's node flags, so process-wide
// V8 flags (--v8-pool-size, --single-threaded-gc, --max-semi-space-size) apply to it; others set
// glibc's malloc arenas (MALLOC_ARENA_MAX) or each thread's young generation (resourceLimits).
//   node bench/bare-loop.js [--n 2] [--calls 200] [--iterations 80000] [--runs 3]
//     [--variants processes,threads,threads-pool1,threads-single-gc,threads-semi64,threads-young64,threads-arena2]
import { fork } from 'node:child_process'
import { PerformanceObserver, performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { markdownTable, median } from './lib/stats.js'

const VARIANTS = {
  processes: { label: 'N processes', mode: 'processes', flags: [] },
  threads: { label: '1 process × N threads', mode: 'threads', flags: [] },
  'threads-pool1': { label: 'threads, --v8-pool-size=1', mode: 'threads', flags: ['--v8-pool-size=1'] },
  'threads-poolN': { label: 'threads, --v8-pool-size=N', mode: 'threads', flags: ['--v8-pool-size=N'] },
  'threads-single-gc': { label: 'threads, --single-threaded-gc', mode: 'threads', flags: ['--single-threaded-gc'] },
  'threads-semi64': { label: 'threads, --max-semi-space-size=64', mode: 'threads', flags: ['--max-semi-space-size=64'] },
  'threads-young64': { label: 'threads, resourceLimits.maxYoungGenerationSizeMb: 64', mode: 'threads', flags: [], resourceLimits: { maxYoungGenerationSizeMb: 64 } },
  'threads-arena2': { label: 'threads, MALLOC_ARENA_MAX=2', mode: 'threads', flags: [], env: { MALLOC_ARENA_MAX: '2' } },
  'processes-pool1': { label: 'N processes, --v8-pool-size=1', mode: 'processes', flags: ['--v8-pool-size=1'] }
}

/** One worker (thread or process): `calls` calls of the loop; reports its wall ms and GC count. */
async function runWorker ({ calls, iterations }, report) {
  process.env.BENCH_CPU_KIND = 'js'
  const { work } = await import('./lib/cpu-work.js')
  let gcs = 0
  const obs = new PerformanceObserver((list) => { gcs += list.getEntries().length })
  obs.observe({ entryTypes: ['gc'] })
  work(iterations) // JIT warm-up
  const t0 = performance.now()
  for (let i = 0; i < calls; i++) work(iterations)
  const ms = performance.now() - t0
  await new Promise((resolve) => setImmediate(resolve)) // let the observer deliver
  obs.disconnect()
  report({ ms, gcs })
}

/** A variant's process: starts N workers, waits for all, reports per-call figures and its CPU. */
async function runVariant ({ mode, n, calls, iterations, resourceLimits }) {
  const cpu0 = process.cpuUsage()
  const results = await Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const data = { role: 'worker', calls, iterations }
    if (mode === 'threads') {
      const w = new Worker(new URL(import.meta.url), { workerData: data, resourceLimits })
      w.once('message', resolve)
      w.once('error', reject)
    } else {
      const c = fork(new URL(import.meta.url), [], { env: { ...process.env, BARE_ROLE: JSON.stringify(data) }, execArgv: process.execArgv })
      c.once('message', (m) => { resolve(m); c.disconnect() })
      c.once('error', reject)
    }
  })))
  // A process's cpuUsage() leaves out its children: each child process reports its own (cpuMs).
  const cpu = process.cpuUsage(cpu0)
  const ownCpuMs = (cpu.user + cpu.system) / 1000
  const cpuMs = ownCpuMs + results.reduce((s, r) => s + (r.cpuMs ?? 0), 0)
  process.send({ msPerCall: median(results.map((r) => r.ms / calls)), cpuMsPerCall: cpuMs / (n * calls), gcPerCall: results.reduce((s, r) => s + r.gcs, 0) / (n * calls) })
}

if (!isMainThread) {
  await runWorker(workerData, (r) => parentPort.postMessage(r))
} else if (process.env.BARE_ROLE !== undefined) {
  const data = JSON.parse(process.env.BARE_ROLE)
  await runWorker(data, (r) => { const c = process.cpuUsage(); process.send({ ...r, cpuMs: (c.user + c.system) / 1000 }) })
} else if (process.env.BARE_VARIANT !== undefined) {
  await runVariant(JSON.parse(process.env.BARE_VARIANT))
} else {
  const { values } = parseArgs({ options: { n: { type: 'string' }, calls: { type: 'string' }, iterations: { type: 'string' }, runs: { type: 'string' }, variants: { type: 'string' } } })
  const n = Number(values.n ?? 2)
  const calls = Number(values.calls ?? 200)
  const iterations = Number(values.iterations ?? 80_000)
  const runs = Number(values.runs ?? 3)
  const names = values.variants?.split(',') ?? ['processes', 'threads', 'threads-pool1', 'threads-single-gc', 'threads-semi64']
  const results = Object.fromEntries(names.map((name) => [name, []]))
  for (let r = 0; r < runs; r++) {
    for (const name of names) {
      const v = VARIANTS[name]
      const flags = v.flags.map((f) => f.replace(/=N$/, `=${n}`))
      const child = fork(new URL(import.meta.url), [], { execArgv: flags, env: { ...process.env, ...v.env, BARE_VARIANT: JSON.stringify({ mode: v.mode, n, calls, iterations, resourceLimits: v.resourceLimits }) } })
      const result = await new Promise((resolve, reject) => { child.once('message', resolve); child.once('exit', (code) => code !== 0 && reject(new Error(`${name} exited ${code}`))) })
      child.kill()
      results[name].push(result)
      console.error(`run ${r + 1}/${runs} ${name}: ${result.msPerCall.toFixed(2)} ms/call, ${result.cpuMsPerCall.toFixed(2)} CPU ms/call, ${result.gcPerCall.toFixed(3)} GC/call`)
    }
  }
  console.log(`\nJS loop × ${iterations} iterations, ${n} workers × ${calls} calls, ${runs} interleaved runs; medians\n`)
  console.log(markdownTable(
    [{ key: 'msPerCall', label: 'ms/call', digits: 2 }, { key: 'cpuMsPerCall', label: 'CPU ms/call', digits: 2 }, { key: 'gcPerCall', label: 'GC events/call', digits: 3 }],
    names.map((name) => ({ label: VARIANTS[name].label, values: Object.fromEntries(['msPerCall', 'cpuMsPerCall', 'gcPerCall'].map((k) => [k, median(results[name].map((x) => x[k]))])) }))))
}
