// The stream scenario's server (issue 17): `/export` and `/cpu-export` return a generator's
// Readable (bench/handlers/stream.js), inline on the main thread (BENCH_STREAM_MODE unset: plain
// Fastify, no plugin) or offloaded with fastify-mpm (BENCH_STREAM_MODE=mpm, BENCH_THREADS
// threads) — the same functions either way.
import mpm, { offload } from 'fastify-mpm'
import { cpuCsv, csv } from '../handlers/stream.js'
import { serve, threads } from './common.js'

const streamModule = new URL('../handlers/stream.js', import.meta.url)

await serve(async (app) => {
  if (process.env.BENCH_STREAM_MODE === 'mpm') {
    // taskTimeout bounds the handler's return and a stream's stalls, not a whole 1 GiB download.
    await app.register(mpm, { threads })
    app.get('/export', offload(streamModule, { export: 'csv' }))
    app.get('/cpu-export', offload(streamModule, { export: 'cpuCsv' }))
  } else {
    app.get('/export', async (req, reply) => csv(req, reply))
    app.get('/cpu-export', async (req, reply) => cpuCsv(req, reply))
  }
})
