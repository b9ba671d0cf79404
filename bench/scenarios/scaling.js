// Scaling at a fixed number of slots (issue 3, `--only scaling`, meant for a 16-core machine):
// the ~7 ms CPU route with the server pinned to `--slots` cores (default 12: cores 0-11) and
// the load generators on the others (12-15), as S processes inline (cluster, threads: 0),
// 1 process × S threads (the plugin) and P × T (cluster, `--shape`, default 3x4), plus one
// process inline for the speed-up. Target: 1 × S and P × T reach ≥ 0.95× the S-process req/s.
import { allowedCpus, formatCpuList, parseCpuList } from '../lib/affinity.js'
import { memoryOf, plural, shapeVariant } from './mpm.js'
import { kind as cpuKind } from '../lib/cpu-work.js'

const fixed = (x, digits = 2) => Number.isFinite(x) ? x.toFixed(digits) : '–'

/** "3x4" → { processes: 3, threads: 4 } */
export function parseShape (text) {
  const m = /^\s*(\d+)\s*[x×*]\s*(\d+)\s*$/.exec(String(text))
  if (m === null || Number(m[1]) < 1 || Number(m[2]) < 1) throw new Error(`--shape must look like 3x4 (processes x threads), got ${JSON.stringify(text)}`)
  return { processes: Number(m[1]), threads: Number(m[2]) }
}

export default {
  name: 'scaling',
  title: 'Scaling: the ~7 ms CPU route at a fixed number of slots, processes vs threads (server and load generators pinned apart)',
  inDefault: false,
  cpuMs: (cfg) => cfg.mpmCpuMs,

  /** Before the load generators start: checks the shape, picks the cores. Returns log lines. */
  prepare (cfg) {
    const notes = []
    const slots = cfg.slots
    const shape = parseShape(cfg.shape)
    if (shape.processes * shape.threads !== slots) {
      throw new Error(`--shape ${cfg.shape} gives ${shape.processes * shape.threads} slots, --slots is ${slots}`)
    }
    if (cfg.serverCpus === undefined) {
      const allowed = allowedCpus()
      if (allowed !== undefined && allowed.length > slots) {
        cfg.serverCpus = formatCpuList(allowed.slice(0, slots))
        cfg.loadCpus ??= formatCpuList(allowed.slice(slots))
      } else {
        notes.push(`warning: ${allowed?.length ?? '?'} CPUs here, not enough for ${slots} server cores + load generators: NOT pinned; the figures are not the scaling measurement`)
      }
    } else if (cfg.loadCpus === undefined) {
      const server = new Set(parseCpuList(cfg.serverCpus))
      const rest = (allowedCpus() ?? []).filter((c) => !server.has(c))
      if (rest.length > 0) cfg.loadCpus = formatCpuList(rest)
    }
    const serverCount = cfg.serverCpus === undefined ? undefined : parseCpuList(cfg.serverCpus).length
    if (serverCount !== undefined && serverCount !== slots) notes.push(`note: ${slots} slots on ${serverCount} server cores`)
    notes.push(`scaling: ${slots} slots, server on CPUs ${cfg.serverCpus ?? 'any'}, load generators on ${cfg.loadCpus ?? 'any'}, ${cfg.scalingConnections} connections`)
    return notes
  },

  variants (cfg) {
    const slots = cfg.slots ?? 12
    const shape = parseShape(cfg.shape ?? '3x4')
    return [
      shapeVariant('one', '1 process, inline', { cluster: false, processes: 1, threads: 0 }, cfg),
      shapeVariant('prefork', `${plural(slots, 'process')}, inline (cluster, threads: 0)`, { cluster: true, processes: slots, threads: 0 }, cfg),
      shapeVariant('threads', `1 process × ${plural(slots, 'thread')} (plugin)`, { cluster: false, processes: 1, threads: slots }, cfg),
      shapeVariant('worker', `${plural(shape.processes, 'process')} × ${plural(shape.threads, 'thread')} (cluster)`, { cluster: true, ...shape }, cfg)
    ]
  },
  columns: [
    { key: 'rps', label: 'CPU route req/s', digits: 0 },
    { key: 'vsPrefork', label: '× processes', digits: 2 },
    { key: 'p50', label: 'p50 ms', digits: 1 },
    { key: 'p99', label: 'p99 ms', digits: 1 },
    { key: 'cpuUsPerReq', label: 'server CPU µs/req', digits: 0 },
    { key: 'treeRssMB', label: 'RSS MB (all processes)', digits: 0 },
    { key: 'rssPerSlotMB', label: 'RSS MB/slot', digits: 0 },
    { key: 'failed', label: 'failed', digits: 0 }
  ],

  async warmup ({ cfg, srv, variant, loads }) {
    await loads[0].cannon({ url: `${srv.origin}/cpu`, connections: cfg.scalingConnections, duration: cfg.warmup })
    const { processCount, serverCpus, treeRssMB } = await memoryOf(srv, variant)
    console.error(`  ${variant.name}: ${processCount} process(es) on CPUs ${serverCpus}, ${treeRssMB.toFixed(0)} MB RSS after warm-up`)
  },

  async measure ({ cfg, srv, variant, loads }) {
    const r = await loads[0].cannon({ url: `${srv.origin}/cpu`, connections: cfg.scalingConnections, duration: cfg.duration })
    return { requests: r.requests, failed: r.errors + r.non2xx, rps: r.rps, p50: r.p50, p99: r.p99, ...await memoryOf(srv, variant) }
  },

  summary (m, cfg) {
    const lines = []
    const { one, prefork, threads, worker } = m
    // Filled in here so the table shows it: a ratio of medians, not a median of ratios.
    for (const v of Object.values(m)) v.vsPrefork = prefork ? v.rps / prefork.rps : NaN
    const shape = cfg.shape ?? '3x4'
    if (prefork) {
      for (const [v, label] of [[threads, `1 × ${plural(cfg.slots, 'thread')}`], [worker, shape]]) {
        if (v === undefined) continue
        const r = v.rps / prefork.rps
        lines.push(`${label} / ${plural(cfg.slots, 'process')} req/s = ${fixed(r)} (target ≥ 0.95: ${r >= 0.95 ? 'met' : 'NOT met'})`)
      }
      if (one) lines.push(`${plural(cfg.slots, 'process')} = ${fixed(prefork.rps / one.rps, 1)}× one process inline`)
    }
    lines.push(`CPU route ≈ ${cfg.mpmCpuMs} ms (${cpuKind} × ${cfg.cpuIterationsByMs?.[cfg.mpmCpuMs] ?? '?'}); server pinned to CPUs ${cfg.serverCpus ?? 'NOT pinned'}, load generators to ${cfg.loadCpus ?? 'NOT pinned'}; ${cfg.scalingConnections} connections`)
    return lines
  }
}
