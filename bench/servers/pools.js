// The pools scenario's server: a slow route (200 ms, bench/handlers/slow.js) in pool `slow`
// (1 thread, maxQueue 10) and the quick `/trivial` route either in a pool of its own
// (BENCH_POOLS=split: pool `fast`, BENCH_THREADS threads) or in the same pool as the slow one
// (BENCH_POOLS=shared). BENCH_FAST_ISOLATION ('thread' or 'process') sets the fast pool's
// isolation: the hook for the process-vs-thread variants.
import mpm, { offload } from 'fastify-mpm'
import { serve, threads, trivialModule } from './common.js'

const slowModule = new URL('../handlers/slow.js', import.meta.url)
const shared = process.env.BENCH_POOLS === 'shared'
const isolation = process.env.BENCH_FAST_ISOLATION ?? 'thread'

await serve(async (app) => {
  await app.register(mpm, {
    threads: 1,
    pools: {
      slow: { threads: 1, maxQueue: 10 },
      ...(shared ? {} : { fast: { threads, isolation } })
    }
  })
  app.get('/slow', offload(slowModule, { pool: 'slow' }))
  app.get('/trivial', offload(trivialModule, { pool: shared ? 'slow' : 'fast' }))
})
