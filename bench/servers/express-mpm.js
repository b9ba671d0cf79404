// fastify-mpm/express as a user would write it: createMpm() with BENCH_THREADS threads and both
// routes offloaded with mpm.offload().
import { createMpm } from 'fastify-mpm/express'
import { pino } from 'pino'
import { cpuModule, threads, trivialModule } from './common.js'
import { serveExpress } from './express-common.js'

await serveExpress(async (app) => {
  const mpm = createMpm({ threads, logger: pino({ level: 'warn' }) })
  app.get('/trivial', mpm.offload(trivialModule))
  app.get('/cpu', mpm.offload(cpuModule))
  await mpm.ready()
  return () => mpm.close()
})
