// fastify-mpm as a user would write it: the plugin with BENCH_THREADS threads and both routes
// offloaded. BENCH_TASK_TIMEOUT overrides taskTimeout (0 = no per-task timer/AbortController).
import mpm, { offload } from 'fastify-mpm'
import { cpuModule, payloadModule, serve, sometimesSlowModule, threads, trivialModule } from './common.js'

const opts = { threads }
if (process.env.BENCH_TASK_TIMEOUT !== undefined) opts.taskTimeout = Number(process.env.BENCH_TASK_TIMEOUT)

await serve(async (app) => {
  await app.register(mpm, opts)
  if (process.env.BENCH_MPM_RUN === '1') {
    // app.mpm.run() from an ordinary handler: fastify-piscina's runTask shape, no request copy.
    app.get('/trivial', async (request) => app.mpm.run(trivialModule, { params: request.params, query: request.query }))
  } else {
    app.get('/trivial', offload(trivialModule))
  }
  app.get('/cpu', offload(cpuModule))
  app.get('/json', offload(payloadModule))
  app.get('/sometimes-slow', offload(sometimesSlowModule))
})
