// Issue 21, point 2: realistic JSON answers. The same listing handler (bench/handlers/payload.js)
// answering about 1 KB and about 100 KB of records, inline, through a hand-written tinypool.run(),
// fastify-piscina and offload(), at `--connections` (`json`) and `--deep-connections`
// (`json-deep`). Each size is its own load in the same server, with the server's CPU time taken
// around it, so each size has its own CPU per request. offload() sends the thread's
// JSON.stringify() text where Fastify would have sent the same (lib/core/route-json.ts); the
// peers clone the object back and Fastify stringifies it on the main thread. With
// BENCH_MPM_BASELINE=<dir> (a checkout whose build lacks it) the run says whether that pays.
import { dispatchVariants } from './dispatch.js'

const SIZES = ['1k', '100k']

const columns = SIZES.flatMap((size) => [
  { key: `rps${size}`, label: `${size} req/s`, digits: 0 },
  { key: `p99${size}`, label: `${size} p99 ms`, digits: 2 },
  { key: `cpu${size}`, label: `${size} CPU µs/req`, digits: 0 }
]).concat([{ key: 'failed', label: 'failed', digits: 0 }])

async function measure ({ cfg, srv, loads }, connections) {
  const out = { requests: 0, failed: 0 }
  for (const size of SIZES) {
    const before = await srv.usage()
    const r = await loads[0].cannon({ url: `${srv.origin}/json?size=${size}`, connections, duration: cfg.duration })
    const after = await srv.usage()
    out[`rps${size}`] = r.rps
    out[`p99${size}`] = r.p99
    out[`cpu${size}`] = (after.cpuUs - before.cpuUs) / Math.max(r.requests, 1)
    out.requests += r.requests
    out.failed += r.errors + r.non2xx
  }
  return out
}

async function warmup ({ cfg, srv, loads }, connections) {
  for (const size of SIZES) await loads[0].cannon({ url: `${srv.origin}/json?size=${size}`, connections, duration: cfg.warmup })
}

function summary (m, connections) {
  const { mpm, tinypool, piscina, inline } = m
  const baseline = m['mpm-baseline']
  const lines = []
  for (const size of SIZES) {
    const at = `${connections} connections, ${size} JSON`
    const rps = `rps${size}`
    const cpu = `cpu${size}`
    if (mpm && tinypool) lines.push(`${at}: offload() / tinypool.run() req/s = ${(mpm[rps] / tinypool[rps]).toFixed(2)}; CPU/req ${(mpm[cpu] / tinypool[cpu]).toFixed(2)}×`)
    if (mpm && piscina) lines.push(`${at}: offload() / fastify-piscina req/s = ${(mpm[rps] / piscina[rps]).toFixed(2)}; CPU/req ${(mpm[cpu] / piscina[cpu]).toFixed(2)}×`)
    if (mpm && inline) lines.push(`${at}: offload() / inline req/s = ${(mpm[rps] / inline[rps]).toFixed(2)}; CPU/req ${(mpm[cpu] / inline[cpu]).toFixed(2)}× inline`)
    if (mpm && baseline) lines.push(`${at}: offload() / the baseline build req/s = ${(mpm[rps] / baseline[rps]).toFixed(2)}; CPU/req ${(mpm[cpu] / baseline[cpu]).toFixed(2)}×`)
  }
  return lines
}

/** One scenario per connection count: `connectionsOf(cfg)` picks it. */
function scenario (name, title, connectionsOf) {
  return {
    name,
    title,
    inDefault: true,
    variants: () => dispatchVariants({ noAtomics: false }),
    columns,
    warmup: (ctx) => warmup(ctx, connectionsOf(ctx.cfg)),
    measure: (ctx) => measure(ctx, connectionsOf(ctx.cfg)),
    summary: (m, cfg) => summary(m, connectionsOf(cfg))
  }
}

export const json = scenario('json', 'JSON answers of 1 KB and 100 KB: inline, through a thread pool, and offload()', (cfg) => cfg.connections)
export const jsonDeep = scenario('json-deep', 'JSON answers of 1 KB and 100 KB at --deep-connections', (cfg) => cfg.deepConnections)
