// A hand-written tinypool.run() in ordinary Express handlers: what mpm.offload()'s dispatch cost
// is judged against. BENCH_ATOMICS=0 turns useAtomics off (as fastify-mpm must run);
// BENCH_PAYLOAD picks what is sent (default: params and query).
import { cpuModule, handWrittenPool, payloadOf, trivialModule } from './common.js'
import { serveExpress } from './express-common.js'

const pool = handWrittenPool()

await serveExpress((app) => {
  app.get('/trivial', (req, res, next) => { pool.run(payloadOf(req), { filename: trivialModule.href }).then((v) => res.json(v), next) })
  app.get('/cpu', (req, res, next) => { pool.run(payloadOf(req), { filename: cpuModule.href }).then((v) => res.json(v), next) })
  app.use((err, req, res, next) => { if (res.headersSent) res.destroy(); else res.status(err.status ?? 500).end() })
  return () => pool.destroy()
})
