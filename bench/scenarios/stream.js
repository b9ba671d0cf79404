// Scenario (issue 17): responses streamed from a thread. Two measurements, one table:
// (a) one connection downloads --stream-mb MiB (default 1 GiB) of CSV-ish bytes a generator makes
//     64 KiB at a time, inline vs offloaded: throughput, the main thread's CPU per MiB (read from
//     /proc/<pid>/task/<pid>/stat, so worker threads are not in it), the whole process's CPU per
//     MiB, and the server's peak RSS (sampled from /proc every 20 ms). A slow reader
//     (--slow-mbps) shows what the server buffers for a client that cannot keep up: RSS growth.
// (b) /hello's p99 (the paced probe) beside --stream-connections concurrent exports whose chunks
//     each cost --stream-cpu-ms of CPU, inline vs offloaded, and /hello idle.
// Targets: offloaded throughput ≥ 0.8 × inline; offloaded /hello p99 under load ≤ 3 × idle.
// A variant whose requests fail (a build without streaming answers an offloaded stream with
// 500 FST_MPM_NOT_CLONEABLE) says so once, with the answer, and counts in "failed".
import { rssOf, threadCpuUs } from '../lib/proctree.js'

const script = new URL('../servers/stream.js', import.meta.url)
const MPM = { BENCH_STREAM_MODE: 'mpm' }
const MiB = 2 ** 20
const CPU_CHUNKS = 16 // chunks of 64 KiB per CPU-bound export: 1 MiB, 16 × --stream-cpu-ms of work

const columns = [
  { key: 'mbps', label: 'MiB/s', digits: 0 },
  { key: 'mainCpuMsPerMB', label: 'main-thread CPU ms/MiB', digits: 2 },
  { key: 'cpuMsPerMB', label: 'process CPU ms/MiB', digits: 2 },
  { key: 'peakRssMB', label: 'peak RSS MiB', digits: 0 },
  { key: 'rssGrowthMB', label: 'RSS growth MiB', digits: 1 },
  { key: 'lightP50', label: '/hello p50 ms', digits: 2 },
  { key: 'lightP99', label: '/hello p99 ms', digits: 2 },
  { key: 'exportRps', label: 'exports/s', digits: 1 },
  { key: 'failed', label: 'failed', digits: 0 }
]

const reported = new Set()
function reportFailure (variant, result) {
  if (result.firstError === undefined || reported.has(variant.name)) return
  reported.add(variant.name)
  const hint = /FST_MPM_NOT_CLONEABLE/.test(result.firstError) ? ' — this build cannot stream from threads yet (issue 17)' : ''
  console.error(`stream/${variant.name}: requests FAIL: ${result.firstError}${hint}`)
}

/** Runs `fn` while sampling the server's RSS; { result, startRss, peakRss } (bytes; NaN without /proc). */
async function withRss (pid, fn) {
  const startRss = rssOf(pid)
  let peakRss = startRss
  const timer = setInterval(() => { peakRss = Math.max(peakRss, rssOf(pid)) }, 20)
  try {
    const result = await fn()
    return { result, startRss, peakRss: Math.max(peakRss, rssOf(pid)) }
  } finally {
    clearInterval(timer)
  }
}

async function measureDownload ({ cfg, srv, variant, loads }, { mb, bytesPerSecond }) {
  const url = `${srv.origin}/export?mb=${mb}`
  // Bounded: a floor of 5 MiB/s (or 3 × the slow reader's schedule), whatever the variant does.
  const timeout = bytesPerSecond === undefined ? Math.max(60, mb / 5) : 3 * mb * MiB / bytesPerSecond + 30
  const mainBefore = threadCpuUs(srv.pid)
  const before = await srv.usage()
  const { result: r, startRss, peakRss } = await withRss(srv.pid, () => loads[0].download({ url, connections: 1, count: 1, bytesPerSecond, timeout }))
  const after = await srv.usage()
  const mainAfter = threadCpuUs(srv.pid)
  reportFailure(variant, r)
  const mbs = r.bytes / MiB
  const ok = r.ok === 1
  return {
    requests: r.requests,
    failed: r.non2xx + r.errors,
    mbps: ok ? mbs / r.seconds : NaN,
    mainCpuMsPerMB: ok ? (mainAfter - mainBefore) / 1000 / mbs : NaN,
    cpuMsPerMB: ok ? (after.cpuUs - before.cpuUs) / 1000 / mbs : NaN,
    peakRssMB: peakRss / MiB,
    rssGrowthMB: (peakRss - startRss) / MiB
  }
}

async function measureLoad ({ cfg, srv, variant, loads }, duration) {
  const probe = () => loads[1].paced({ url: `${srv.origin}/hello`, rate: cfg.rate, duration })
  if (variant.kind === 'idle') {
    const light = await probe()
    return { requests: light.requests, failed: light.errors + light.non2xx, lightP50: light.p50, lightP99: light.p99 }
  }
  const { result, startRss, peakRss } = await withRss(srv.pid, async () => {
    const heavyRun = loads[0].download({ url: `${srv.origin}/cpu-export?chunks=${CPU_CHUNKS}`, connections: cfg.streamConnections, duration: duration + 1, timeout: 60 })
    // The probe runs inside the exports' window, once they are all under way.
    await new Promise((resolve) => setTimeout(resolve, 500))
    const light = await probe()
    return { light, heavy: await heavyRun }
  })
  const { light, heavy } = result
  reportFailure(variant, heavy)
  return {
    requests: light.requests + heavy.requests,
    failed: light.errors + light.non2xx + heavy.errors + heavy.non2xx,
    lightP50: light.p50,
    lightP99: light.p99,
    exportRps: heavy.ok / heavy.seconds,
    peakRssMB: peakRss / MiB,
    rssGrowthMB: (peakRss - startRss) / MiB
  }
}

function measure (ctx, warmup = false) {
  const { cfg, variant } = ctx
  switch (variant.kind) {
    case 'download': return measureDownload(ctx, { mb: warmup ? Math.min(cfg.streamMb, 64) : cfg.streamMb })
    case 'slow': {
      const seconds = warmup ? 1 : cfg.duration
      return measureDownload(ctx, { mb: cfg.slowMbps * seconds, bytesPerSecond: cfg.slowMbps * MiB })
    }
    default: return measureLoad(ctx, warmup ? cfg.warmup : cfg.duration)
  }
}

const ratio = (a, b) => a / b
const fixed = (x, digits = 2) => Number.isFinite(x) ? x.toFixed(digits) : 'n/a'
// A ratio over a variant whose requests failed (fast 500s) is no measurement, however good it looks.
const verdict = (x, ok, ...variants) => variants.some((v) => !(v.failed === 0)) || !Number.isFinite(x)
  ? 'not measured: requests failed'
  : ok ? 'met' : 'NOT met'

export default {
  name: 'stream',
  title: 'Streamed responses (issue 17): a generator\'s export inline vs offloaded',
  inDefault: false,
  cpuMs: (cfg) => cfg.streamCpuMs,
  variants: (cfg) => [
    { name: 'download-inline', label: `download ${cfg.streamMb ?? 1024} MiB, inline`, script, kind: 'download' },
    { name: 'download-mpm', label: `download ${cfg.streamMb ?? 1024} MiB, offload() (${cfg.threads} threads)`, script, env: MPM, kind: 'download', offloaded: true },
    { name: 'slow-inline', label: `slow reader ${cfg.slowMbps ?? 8} MiB/s, inline`, script, kind: 'slow' },
    { name: 'slow-mpm', label: `slow reader ${cfg.slowMbps ?? 8} MiB/s, offload()`, script, env: MPM, kind: 'slow', offloaded: true },
    { name: 'idle', label: '/hello idle (no exports)', script, env: MPM, kind: 'idle' },
    { name: 'cpu-inline', label: `/hello beside ${cfg.streamConnections ?? 4} CPU-bound exports, inline`, script, kind: 'cpu' },
    { name: 'cpu-mpm', label: `/hello beside ${cfg.streamConnections ?? 4} CPU-bound exports, offload()`, script, env: MPM, kind: 'cpu', offloaded: true }
  ],
  columns,
  async warmup (ctx) {
    const { cfg, srv, loads } = ctx
    await loads[1].cannon({ url: `${srv.origin}/hello`, connections: 2, duration: 1 })
    if (ctx.variant.kind !== 'idle') await measure(ctx, true)
    else await loads[1].paced({ url: `${srv.origin}/hello`, rate: cfg.rate, duration: cfg.warmup })
  },
  measure: (ctx) => measure(ctx),
  summary (m, cfg) {
    const lines = []
    const di = m['download-inline']
    const dm = m['download-mpm']
    if (di && dm) {
      const r = ratio(dm.mbps, di.mbps)
      lines.push(`download ${cfg.streamMb} MiB: offloaded ${fixed(dm.mbps, 0)} MiB/s ÷ inline ${fixed(di.mbps, 0)} MiB/s = ${fixed(r)} (target ≥ 0.8: ${verdict(r, r >= 0.8, di, dm)})`)
      lines.push(`main-thread CPU per MiB: offloaded ${fixed(dm.mainCpuMsPerMB)} ms, inline ${fixed(di.mainCpuMsPerMB)} ms; peak RSS offloaded ${fixed(dm.peakRssMB, 0)} MiB, inline ${fixed(di.peakRssMB, 0)} MiB`)
    }
    const si = m['slow-inline']
    const sm = m['slow-mpm']
    if (si && sm) lines.push(`slow reader at ${cfg.slowMbps} MiB/s: server RSS growth offloaded ${fixed(sm.rssGrowthMB, 1)} MiB, inline ${fixed(si.rssGrowthMB, 1)} MiB (streamBuffer default 1 MiB per stream)`)
    const idle = m.idle?.lightP99
    const cm = m['cpu-mpm']
    const ci = m['cpu-inline']
    if (cm && idle !== undefined) {
      const r = ratio(cm.lightP99, idle)
      lines.push(`offloaded: /hello p99 beside ${cfg.streamConnections} CPU-bound exports ÷ idle p99 = ${fixed(r)} (target ≤ 3: ${verdict(r, r <= 3, cm, m.idle)}; ${fixed(cm.exportRps, 1)} exports/s)`)
    }
    if (ci && idle !== undefined) lines.push(`inline: /hello p99 beside ${cfg.streamConnections} CPU-bound exports ÷ idle p99 = ${fixed(ratio(ci.lightP99, idle), 1)} (${fixed(ci.exportRps, 1)} exports/s)`)
    return lines
  }
}
