// A hand-written tinypool.run() in ordinary Fastify handlers: what fastify-mpm's dispatch cost
// is judged against. BENCH_ATOMICS=0 turns useAtomics off (as the plugin must run),
// BENCH_PAYLOAD picks what is sent, BENCH_TIMEOUT_MS>0 adds the per-task AbortController +
// timer the plugin uses for taskTimeout.
import { cpuModule, handWrittenPool, payloadModule, payloadOf, serve, sometimesSlowModule, trivialModule } from './common.js'

const pool = handWrittenPool()
const timeoutMs = Number(process.env.BENCH_TIMEOUT_MS ?? 0)

async function run (payload, filename) {
  if (timeoutMs <= 0) return pool.run(payload, { filename })
  const abort = new AbortController()
  const timer = setTimeout(() => abort.abort(), timeoutMs)
  try {
    return await pool.run(payload, { filename, signal: abort.signal })
  } finally {
    clearTimeout(timer)
  }
}

await serve(async (app) => {
  app.addHook('onClose', async () => { await pool.destroy() })
  app.get('/trivial', async (request) => run(payloadOf(request), trivialModule.href))
  app.get('/cpu', async (request) => run(payloadOf(request), cpuModule.href))
  app.get('/json', async (request) => run(payloadOf(request), payloadModule.href))
  app.get('/sometimes-slow', async (request) => run(payloadOf(request), sometimesSlowModule.href))
})
