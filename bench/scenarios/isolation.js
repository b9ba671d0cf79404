// Process isolation (issue 18, `--only isolation`): the dispatch cost of a trivial offloaded
// route whose pool runs its handlers in child processes (`isolation: 'process'`) beside the same
// route in a thread pool and inline: req/s, p50/p99, server CPU per request (the whole process
// tree: a process pool's children do part of the work) and the memory each slot adds over the
// inline server (Pss of the tree, which counts pages shared by the children once).
import { dispatchMeasure, dispatchWarmup } from './dispatch.js'

const script = new URL('../servers/isolation.js', import.meta.url)
const MB = 2 ** 20

function variants (cfg) {
  const n = String(cfg.threads)
  return [
    { name: 'inline', label: 'inline (threads: 0)', script, env: { BENCH_THREADS: '0' }, slots: 0 },
    { name: 'thread', label: `${n} threads (isolation: 'thread')`, script, env: { BENCH_THREADS: n, BENCH_ISOLATION: 'thread' }, slots: cfg.threads },
    { name: 'process', label: `${n} child processes (isolation: 'process')`, script, env: { BENCH_THREADS: n, BENCH_ISOLATION: 'process' }, slots: cfg.threads }
  ]
}

export default {
  name: 'isolation',
  title: 'Process isolation: a trivial offloaded route in a thread pool vs a process pool',
  inDefault: false,
  variants,
  columns: [
    { key: 'rps', label: 'req/s', digits: 0 },
    { key: 'p50', label: 'p50 ms', digits: 2 },
    { key: 'p99', label: 'p99 ms', digits: 2 },
    { key: 'cpuUsPerReq', label: 'server CPU µs/req (tree)', digits: 0 },
    { key: 'treePssMB', label: 'tree Pss MB', digits: 1 },
    { key: 'treeRssMB', label: 'tree RSS MB', digits: 1 },
    { key: 'processes', label: 'processes', digits: 0 },
    { key: 'failed', label: 'failed', digits: 0 }
  ],
  warmup: (ctx) => dispatchWarmup(ctx),
  async measure (ctx) {
    const result = await dispatchMeasure(ctx)
    const { rss, pss, tree } = await ctx.srv.usage()
    return { ...result, treeRssMB: rss / MB, treePssMB: pss / MB, processes: tree.length }
  },
  summary (m, cfg) {
    const { inline, thread, process: proc } = m
    const lines = []
    if (thread && proc) {
      lines.push(`process pool / thread pool: req/s ${(proc.rps / thread.rps).toFixed(2)}×, server CPU/req ${(proc.cpuUsPerReq / thread.cpuUsPerReq).toFixed(2)}× (${proc.cpuUsPerReq.toFixed(0)} vs ${thread.cpuUsPerReq.toFixed(0)} µs), p50 ${proc.p50.toFixed(2)} vs ${thread.p50.toFixed(2)} ms`)
    }
    if (inline && thread && proc) {
      const perSlot = (v) => ((v.treePssMB - inline.treePssMB) / cfg.threads).toFixed(1)
      lines.push(`memory per slot over the inline server (tree Pss): thread ${perSlot(thread)} MB, child process ${perSlot(proc)} MB (${cfg.threads} slots)`)
    }
    return lines
  }
}
