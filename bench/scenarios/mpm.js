// The worker-MPM comparison (issue 3, `--only mpm`): the same app module
// (bench/servers/worker-mpm-app.js: a ~7 ms pbkdf2 route behind offload(), a light inline
// /hello) as one process inline, N processes inline (prefork-like: cluster() with threads: 0),
// one process with N threads (the plugin alone) and N processes × M threads (cluster()). For
// each: the CPU route's req/s and p99 under a closed loop, /hello's p99 beside that load, /hello
// alone (req/s, p99), and the memory of the whole server (primary + children, from /proc) per
// concurrency slot.
const script = new URL('../servers/worker-mpm.js', import.meta.url)
const MB = 2 ** 20

/** A server shape: `cluster` false = the plugin in one plain process. */
export function shapeVariant (name, label, { cluster, processes, threads }, cfg) {
  const env = { BENCH_CLUSTER: cluster ? '1' : '0', BENCH_PROCESSES: String(processes), BENCH_THREADS: String(threads), BENCH_PIN_CPUS: cfg.serverCpus ?? '' }
  return { name, label, script, env, shape: { cluster, processes, threads, slots: processes * Math.max(threads, 1) } }
}

/** Memory of the server's process tree after a run: totals, the primary, the mean child. */
export async function memoryOf (srv, variant) {
  const { rss, pss, tree } = await srv.usage()
  const { cluster, slots } = variant.shape
  // Under cluster() the root is the primary (it serves nothing); alone, the root is the server.
  const workers = cluster ? tree.slice(1) : tree
  const mean = (key) => workers.reduce((sum, p) => sum + p[key], 0) / Math.max(workers.length, 1) / MB
  return {
    treeRssMB: rss / MB,
    treePssMB: pss / MB,
    rssPerSlotMB: rss / MB / slots,
    primaryRssMB: cluster ? tree[0].rss / MB : NaN,
    primaryPssMB: cluster ? tree[0].pss / MB : NaN,
    workerRssMB: mean('rss'),
    workerPssMB: mean('pss'),
    processCount: tree.length,
    slots,
    // Not a number, so not in the medians: kept in the JSON runs to show where the server ran.
    serverCpus: [...new Set(tree.map((p) => p.cpus))].join(' ')
  }
}

export const plural = (n, word) => `${n} ${word}${n === 1 ? '' : word.endsWith('s') ? 'es' : 's'}`
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const fixed = (x, digits = 1) => Number.isFinite(x) ? x.toFixed(digits) : '–'

export default {
  name: 'mpm',
  title: 'Worker MPM: processes vs threads for a ~7 ms CPU route and a light route, and memory per slot',
  inDefault: false,
  cpuMs: (cfg) => cfg.mpmCpuMs,
  variants (cfg) {
    const n = cfg.processes ?? 2
    const m = cfg.processThreads ?? 1
    return [
      shapeVariant('inline', '1 process, inline', { cluster: false, processes: 1, threads: 0 }, cfg),
      shapeVariant('prefork', `${plural(n, 'process')}, inline (cluster, threads: 0)`, { cluster: true, processes: n, threads: 0 }, cfg),
      shapeVariant('threads', `1 process × ${plural(n, 'thread')} (plugin)`, { cluster: false, processes: 1, threads: n }, cfg),
      shapeVariant('worker', `${plural(n, 'process')} × ${plural(m, 'thread')} (cluster)`, { cluster: true, processes: n, threads: m }, cfg)
    ]
  },
  columns: [
    { key: 'cpuRps', label: 'CPU route req/s', digits: 0 },
    { key: 'cpuP99', label: 'CPU p99 ms', digits: 1 },
    { key: 'loadedLightP99', label: '/hello p99 ms beside it', digits: 2 },
    { key: 'lightRps', label: '/hello alone req/s', digits: 0 },
    { key: 'lightP99', label: '/hello alone p99 ms', digits: 2 },
    { key: 'cpuMsPerCpuReq', label: 'server CPU ms/CPU req', digits: 2 },
    { key: 'slots', label: 'slots', digits: 0 },
    { key: 'treeRssMB', label: 'RSS MB (all processes)', digits: 0 },
    { key: 'rssPerSlotMB', label: 'RSS MB/slot', digits: 0 },
    { key: 'failed', label: 'failed', digits: 0 }
  ],

  async warmup ({ cfg, srv, loads }) {
    await loads[0].cannon({ url: `${srv.origin}/hello`, connections: cfg.connections, duration: cfg.warmup })
    await loads[0].cannon({ url: `${srv.origin}/cpu`, connections: cfg.heavyConnections, duration: cfg.warmup })
  },

  async measure ({ cfg, srv, variant, loads }) {
    // 1. The CPU route under a closed loop, with the paced /hello probe inside its steady state:
    //    inline variants make /hello wait behind pbkdf2, threaded ones should not.
    const before = await srv.usage()
    const heavyRun = loads[0].cannon({ url: `${srv.origin}/cpu`, connections: cfg.heavyConnections, duration: cfg.duration + 1 })
    await sleep(500)
    const probe = await loads[1].paced({ url: `${srv.origin}/hello`, rate: cfg.rate, duration: cfg.duration })
    const heavy = await heavyRun
    const after = await srv.usage()
    // 2. The light route alone: what each shape does for cheap requests.
    const light = await loads[0].cannon({ url: `${srv.origin}/hello`, connections: cfg.connections, duration: cfg.duration })
    return {
      requests: heavy.requests + probe.requests + light.requests,
      failed: heavy.errors + heavy.non2xx + probe.errors + probe.non2xx + light.errors + light.non2xx,
      cpuRps: heavy.rps,
      cpuP50: heavy.p50,
      cpuP99: heavy.p99,
      // Server CPU over the heavy phase (the probe's light requests are noise beside pbkdf2).
      cpuMsPerCpuReq: (after.cpuUs - before.cpuUs) / 1000 / Math.max(heavy.requests, 1),
      loadedLightP50: probe.p50,
      loadedLightP99: probe.p99,
      lightRps: light.rps,
      lightP50: light.p50,
      lightP99: light.p99,
      ...await memoryOf(srv, variant)
    }
  },

  summary (m, cfg) {
    const lines = []
    const { inline, prefork, threads, worker } = m
    const n = cfg.processes ?? 2
    if (inline) {
      for (const [name, v] of Object.entries(m)) {
        if (name === 'inline') continue
        lines.push(`${name}: CPU route ${fixed(v.cpuRps / inline.cpuRps, 2)}× the one-process req/s; /hello alone ${fixed(v.lightRps / inline.lightRps, 2)}×; /hello p99 beside the CPU load ${fixed(v.loadedLightP99, 2)} ms (one process inline: ${fixed(inline.loadedLightP99, 2)} ms)`)
      }
    }
    if (prefork && threads) lines.push(`CPU route req/s, ${n} threads / ${n} processes = ${fixed(threads.cpuRps / prefork.cpuRps, 2)}${worker ? `; ${n} × ${cfg.processThreads} (${worker.slots} slots) / ${n} processes = ${fixed(worker.cpuRps / prefork.cpuRps, 2)}` : ''}`)
    // Memory per slot. A thread's cost: the one-process server with N threads minus the inline
    // one, over N. A process's: the mean cluster child (what scale(+1) adds). The primary: once.
    if (inline && threads && prefork) {
      const perThread = (threads.treeRssMB - inline.treeRssMB) / n
      const perThreadPss = (threads.treePssMB - inline.treePssMB) / n
      lines.push(`memory (RSS): one extra tinypool thread adds ${fixed(perThread)} MB, one extra cluster process ${fixed(prefork.workerRssMB)} MB (${fixed(prefork.workerRssMB / perThread)}× a thread), the primary ${fixed(prefork.primaryRssMB)} MB once`)
      if (Number.isFinite(perThreadPss)) {
        lines.push(`memory (PSS, shared pages split between processes): thread ${fixed(perThreadPss)} MB, process ${fixed(prefork.workerPssMB)} MB (${fixed(prefork.workerPssMB / perThreadPss)}×), primary ${fixed(prefork.primaryPssMB)} MB`)
      }
    }
    if (prefork && worker && cfg.processThreads > 0) {
      lines.push(`cross-check: a cluster child with ${cfg.processThreads} thread(s) holds ${fixed((worker.workerRssMB - prefork.workerRssMB) / cfg.processThreads)} MB RSS more per thread than an inline child`)
    }
    return lines
  }
}
