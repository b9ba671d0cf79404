// fastify-mpm/express as a user would write it: createMpm() with BENCH_THREADS threads and both
// routes offloaded with mpm.offload().
import { createMpm } from 'fastify-mpm/express'
import { pino } from 'pino'
import { cpuModule, threads, trivialModule } from './common.js'
import { serveExpress } from './express-common.js'

await serveExpress(async (app) => {
  // Silent, as the Fastify servers run with logger: false: a load generator stopping leaves
  // queued tasks whose clients went away, each a 503 an app would log.
  const mpm = createMpm({ threads, logger: pino({ level: 'silent' }) })
  app.get('/trivial', mpm.offload(trivialModule))
  app.get('/cpu', mpm.offload(cpuModule))
  app.use((err, req, res, next) => { if (res.headersSent) res.destroy(); else res.status(err.status ?? 500).end() })
  await mpm.ready()
  return () => mpm.close()
})
