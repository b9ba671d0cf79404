#!/usr/bin/env node
// The benchmark orchestrator (`npm run bench`). Each server variant runs in its own process
// (bench/servers/), load comes from separate load-generator processes (bench/lib/loadgen.js),
// and the server's CPU time per request is read from the server itself around each run.
// Runs are interleaved (A, B, C, A, B, C, …) and each figure is the median over them.
// `node bench/run.js --help` lists the options.
import { mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os'
import { parseArgs } from 'node:util'
import { kind as cpuKind } from './lib/cpu-work.js'
import { allowedCpus, formatCpuList, pin } from './lib/affinity.js'
import { calibrateCpu } from './lib/calibrate.js'
import { LoadGen } from './lib/loadgens.js'
import { startServer } from './lib/server.js'
import { markdownTable, medians } from './lib/stats.js'
import { scenarios } from './scenarios/index.js'

const HELP = `Usage: npm run bench -- [options]      (or: node bench/run.js [options] after npm run build)

  --quick                 smoke run: 1 run of 2 s per variant, 1 s warm-up (under a minute)
  --only a,b              scenarios to run (default: ${scenarios.filter((s) => s.inDefault).map((s) => s.name).join(', ')})
  --variants a,b          only these variants of the chosen scenarios
  --runs N                interleaved runs per variant; figures are medians (default 3)
  --duration S            seconds per measured run (default 5)
  --warmup S              seconds of warm-up per server before the runs (default 2)
  --connections N         autocannon connections for the dispatch scenarios (default 10)
  --deep-connections N    connections for dispatch-deep, a deep queue (default 50)
  --heavy-connections N   connections hammering the CPU route (default 8)
  --rate N                req/s of the light-route probe (default 100)
  --slow-rate N           dispatch-slow: req/s offered to the sometimes-slow route (default 200)
  --threads N             threads per pool, every variant (default 2)
  --cpu-ms MS             cost of the CPU route, calibrated at startup (default 20)
  --cpu-prof              run servers under node --cpu-prof; profiles in bench/results/prof/

  Worker MPM (--only mpm) and scaling (--only scaling):
  --processes N           mpm: N processes inline, 1 × N threads, N × M (default 2)
  --process-threads M     mpm: threads per process of the N × M variant (default 1)
  --mpm-cpu-ms MS         cost of their CPU route, calibrated at startup (default 7)
  --slots N               scaling: slots, as N processes, 1 × N threads and --shape (default 12)
  --shape PxT             scaling: the processes × threads variant (default 3x4)
  --scaling-connections N scaling: connections on the CPU route (default 4 × slots)
  --server-cpus LIST      pin the mpm/scaling servers (taskset -c LIST); scaling default: the
                          first --slots allowed CPUs when there are more than --slots
  --load-cpus LIST        pin the load generators; scaling default: the CPUs left over

  Idle keep-alive connections (--only connections):
  --held-connections N    connections the server holds open (default 1000)

  Streamed responses (--only stream):
  --stream-mb N           MiB one connection downloads, inline vs offloaded (default 1024)
  --slow-mbps N           the slow reader's MiB/s; it reads for --duration s (default 8)
  --stream-connections N  concurrent CPU-bound exports beside the /hello probe (default 4)
  --stream-cpu-ms MS      CPU cost of each 64 KiB chunk of those exports (default 5)
  --list                  list scenarios and variants
  --help

Every option also reads an environment variable: BENCH_QUICK=1, BENCH_ONLY, BENCH_VARIANTS,
BENCH_RUNS, BENCH_DURATION, BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_DEEP_CONNECTIONS, BENCH_HEAVY_CONNECTIONS,
BENCH_RATE, BENCH_SLOW_RATE, BENCH_THREADS, BENCH_CPU_MS, BENCH_PROCESSES, BENCH_PROCESS_THREADS,
BENCH_MPM_CPU_MS, BENCH_SLOTS, BENCH_SHAPE, BENCH_SCALING_CONNECTIONS, BENCH_SERVER_CPUS,
BENCH_LOAD_CPUS, BENCH_HELD_CONNECTIONS, BENCH_STREAM_MB, BENCH_SLOW_MBPS, BENCH_STREAM_CONNECTIONS,
BENCH_STREAM_CPU_MS; BENCH_MPM_BASELINE=<dir> adds offload() from another
checkout's build to the dispatch scenarios. Flags win.`

const OPTIONS = {
  quick: { type: 'boolean' },
  only: { type: 'string' },
  variants: { type: 'string' },
  runs: { type: 'string' },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  connections: { type: 'string' },
  'deep-connections': { type: 'string' },
  'heavy-connections': { type: 'string' },
  rate: { type: 'string' },
  'slow-rate': { type: 'string' },
  threads: { type: 'string' },
  'cpu-ms': { type: 'string' },
  'cpu-prof': { type: 'boolean' },
  processes: { type: 'string' },
  'process-threads': { type: 'string' },
  'mpm-cpu-ms': { type: 'string' },
  slots: { type: 'string' },
  shape: { type: 'string' },
  'scaling-connections': { type: 'string' },
  'server-cpus': { type: 'string' },
  'load-cpus': { type: 'string' },
  'held-connections': { type: 'string' },
  'stream-mb': { type: 'string' },
  'slow-mbps': { type: 'string' },
  'stream-connections': { type: 'string' },
  'stream-cpu-ms': { type: 'string' },
  list: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
}

let flags
try {
  ({ values: flags } = parseArgs({ options: OPTIONS }))
} catch (err) {
  console.error(`bench: ${err.message}\n\n${HELP}`)
  process.exit(2)
}

if (flags.help) {
  console.log(HELP)
  process.exit(0)
}
if (flags.list) {
  for (const s of scenarios) {
    console.log(`${s.name}${s.inDefault ? '' : ' (only with --only)'}: ${s.title}`)
    for (const v of s.variants({ threads: 2 })) console.log(`  ${v.name}: ${v.label}`)
  }
  process.exit(0)
}

const quick = flags.quick ?? process.env.BENCH_QUICK === '1'
function option (flag, env, fallback, quickValue = fallback, min = 1) {
  const raw = flags[flag] ?? process.env[env]
  if (raw === undefined) return quick ? quickValue : fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < min) {
    console.error(`bench: --${flag} (${env}) must be a number >= ${min}, got ${JSON.stringify(raw)}`)
    process.exit(2)
  }
  return value
}
const list = (flag, env) => (flags[flag] ?? process.env[env])?.split(',').map((s) => s.trim()).filter(Boolean)

const cfg = {
  quick,
  runs: Math.round(option('runs', 'BENCH_RUNS', 3, 1)),
  duration: option('duration', 'BENCH_DURATION', 5, 2),
  warmup: option('warmup', 'BENCH_WARMUP', 2, 1),
  connections: Math.round(option('connections', 'BENCH_CONNECTIONS', 10)),
  deepConnections: Math.round(option('deep-connections', 'BENCH_DEEP_CONNECTIONS', 50)),
  heavyConnections: Math.round(option('heavy-connections', 'BENCH_HEAVY_CONNECTIONS', 8)),
  rate: option('rate', 'BENCH_RATE', 100),
  slowRate: option('slow-rate', 'BENCH_SLOW_RATE', 200),
  threads: Math.round(option('threads', 'BENCH_THREADS', 2)),
  cpuMs: option('cpu-ms', 'BENCH_CPU_MS', 20),
  cpuProf: flags['cpu-prof'] ?? false,
  processes: Math.round(option('processes', 'BENCH_PROCESSES', 2)),
  processThreads: Math.round(option('process-threads', 'BENCH_PROCESS_THREADS', 1)),
  mpmCpuMs: option('mpm-cpu-ms', 'BENCH_MPM_CPU_MS', 7),
  slots: Math.round(option('slots', 'BENCH_SLOTS', 12)),
  shape: flags.shape ?? process.env.BENCH_SHAPE ?? '3x4',
  serverCpus: flags['server-cpus'] ?? (process.env.BENCH_SERVER_CPUS || undefined),
  loadCpus: flags['load-cpus'] ?? (process.env.BENCH_LOAD_CPUS || undefined),
  heldConnections: Math.round(option('held-connections', 'BENCH_HELD_CONNECTIONS', 1000)),
  streamMb: option('stream-mb', 'BENCH_STREAM_MB', 1024, 64),
  slowMbps: option('slow-mbps', 'BENCH_SLOW_MBPS', 8),
  streamConnections: Math.round(option('stream-connections', 'BENCH_STREAM_CONNECTIONS', 4)),
  streamCpuMs: option('stream-cpu-ms', 'BENCH_STREAM_CPU_MS', 5)
}
cfg.scalingConnections = Math.round(option('scaling-connections', 'BENCH_SCALING_CONNECTIONS', 4 * cfg.slots))

const only = list('only', 'BENCH_ONLY')
const unknown = only?.filter((name) => !scenarios.some((s) => s.name === name)) ?? []
if (unknown.length > 0) {
  console.error(`bench: unknown scenario ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}`)
  process.exit(2)
}
const selected = scenarios.filter((s) => only === undefined ? s.inDefault : only.includes(s.name))
const variantFilter = list('variants', 'BENCH_VARIANTS')
// Scenario setup that must happen before any process starts (the scaling scenario picks its cores).
const prepared = []
for (const scenario of selected) {
  try {
    prepared.push(...(scenario.prepare?.(cfg) ?? []))
  } catch (err) {
    console.error(`bench: ${scenario.name}: ${err.message}`)
    process.exit(2)
  }
}

const resultsDir = new URL('./results/', import.meta.url)
const profDir = new URL('./results/prof/', import.meta.url)
mkdirSync(resultsDir, { recursive: true })
if (cfg.cpuProf) mkdirSync(profDir, { recursive: true })

const startedAt = new Date()
const machine = {
  cpus: availableParallelism(),
  model: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  cpusAllowed: formatCpuList(allowedCpus() ?? []),
  loadavgBefore: loadavg().map((l) => Number(l.toFixed(2)))
}

const log = (line) => console.error(line)
log(`fastify-mpm bench — ${machine.cpus} CPUs (${machine.model}), Node ${machine.node}, load average ${machine.loadavgBefore.join(' ')}`)
log(`runs ${cfg.runs} × ${cfg.duration} s (warm-up ${cfg.warmup} s), ${cfg.threads} threads, ${cfg.connections} connections${quick ? ' — QUICK smoke run: figures are not measurements' : ''}`)
if (machine.loadavgBefore[0] > machine.cpus / 2) log(`warning: load average ${machine.loadavgBefore[0]} on ${machine.cpus} CPUs: figures will be noisy`)
for (const line of prepared) log(line)

const serverEnv = { BENCH_THREADS: String(cfg.threads), NODE_ENV: 'production' }
if (selected.some((s) => s.needsCpuRoute)) {
  const iterations = calibrateCpu(cfg.cpuMs)
  serverEnv.BENCH_CPU_ITERATIONS = String(iterations)
  cfg.cpuIterations = iterations
  log(`CPU route: ${cpuKind} × ${iterations} iterations ≈ ${cfg.cpuMs} ms here`)
}
// Scenarios with their own CPU route cost (`cpuMs(cfg)`) get their own calibration.
cfg.cpuIterationsByMs = {}
for (const scenario of selected) {
  const ms = scenario.cpuMs?.(cfg)
  if (ms === undefined || cfg.cpuIterationsByMs[ms] !== undefined) continue
  cfg.cpuIterationsByMs[ms] = calibrateCpu(ms)
  log(`CPU route (${scenario.name}): ${cpuKind} × ${cfg.cpuIterationsByMs[ms]} iterations ≈ ${ms} ms here`)
}

function cpuEnvOf (scenario) {
  const ms = scenario.cpuMs?.(cfg)
  return ms === undefined ? {} : { BENCH_CPU_ITERATIONS: String(cfg.cpuIterationsByMs[ms]) }
}

const loads = [new LoadGen(), new LoadGen()]
if (cfg.loadCpus !== undefined) {
  // Pinned right after the fork, before they load anything; autocannon runs on their main thread.
  for (const l of loads) pin(l.child.pid, cfg.loadCpus)
  log(`load generators pinned to CPUs ${cfg.loadCpus}`)
}
const report = { startedAt: startedAt.toISOString(), machine, config: cfg, scenarios: {} }
const output = []
let failed = false

try {
  for (const scenario of selected) {
    const variants = scenario.variants(cfg).filter((v) => variantFilter === undefined || variantFilter.includes(v.name))
    if (variants.length === 0) continue
    log(`\n## ${scenario.title}`)
    const servers = await Promise.all(variants.map((variant) => startServer({
      name: `${scenario.name}/${variant.name}`,
      script: variant.script,
      env: { ...serverEnv, ...cpuEnvOf(scenario), ...variant.env },
      // One folder per variant: Node names each thread's profile CPU.<date>.<time>.<pid>.<tid>.<seq>.
      execArgv: cfg.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', new URL(`${scenario.name}-${variant.name}/`, profDir).pathname] : []
    })))
    const runs = new Map(variants.map((v) => [v.name, []]))
    try {
      for (const [i, variant] of variants.entries()) {
        log(`warm-up ${variant.name}`)
        await scenario.warmup({ cfg, srv: servers[i], variant, loads })
      }
      for (let run = 1; run <= cfg.runs; run++) {
        for (const [i, variant] of variants.entries()) {
          const srv = servers[i]
          const before = await srv.usage()
          const metrics = await scenario.measure({ cfg, srv, variant, loads })
          const after = await srv.usage()
          metrics.cpuUsPerReq = (after.cpuUs - before.cpuUs) / Math.max(metrics.requests, 1)
          // Event-loop active time, not CPU time: on a crowded machine it also counts time the
          // main thread was descheduled mid-task. Absent for servers that do not report it.
          if (after.mainMs !== undefined) metrics.mainUsPerReq = (after.mainMs - before.mainMs) * 1000 / Math.max(metrics.requests, 1)
          metrics.rssMB = after.rss / 2 ** 20
          runs.get(variant.name).push(metrics)
          if (metrics.failed > 0) failed = true
          log(`run ${run}/${cfg.runs} ${variant.name}: ${scenario.columns.map((c) => `${c.label} ${Number.isFinite(metrics[c.key]) ? metrics[c.key].toFixed(c.digits) : '–'}`).join(', ')}`)
        }
      }
    } finally {
      await Promise.all(servers.map((s) => s.stop()))
    }

    const med = Object.fromEntries(variants.map((v) => [v.name, medians(runs.get(v.name))]))
    const summary = scenario.summary(med, cfg)
    report.scenarios[scenario.name] = {
      title: scenario.title,
      variants: Object.fromEntries(variants.map((v) => [v.name, { label: v.label, env: v.env ?? {}, median: med[v.name], runs: runs.get(v.name) }])),
      summary
    }
    output.push(`### ${scenario.title}`, '',
      markdownTable(scenario.columns, variants.map((v) => ({ label: v.label, values: med[v.name] }))), '',
      ...summary.map((line) => `- ${line}`), '')
  }
} finally {
  await Promise.all(loads.map((l) => l.close()))
}

machine.loadavgAfter = loadavg().map((l) => Number(l.toFixed(2)))
const header = `Medians of ${cfg.runs} interleaved run${cfg.runs === 1 ? '' : 's'} × ${cfg.duration} s; ${machine.cpus} CPUs (${machine.model}), Node ${machine.node}, ` +
  `load average before/after ${machine.loadavgBefore[0]}/${machine.loadavgAfter[0]}${quick ? '. QUICK smoke run: not a measurement.' : '.'}`
console.log(['', header, '', ...output].join('\n'))

const file = new URL(`bench-${startedAt.toISOString().replace(/[:.]/g, '-')}${quick ? '-quick' : ''}.json`, resultsDir)
writeFileSync(file, JSON.stringify(report, null, 2) + '\n')
log(`results: ${file.pathname}`)
if (failed) {
  log('some requests failed: see the "failed" column')
  process.exitCode = 1
}
