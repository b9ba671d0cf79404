// The connections scenario's server: fastify-mpm as a user would run it with its status page on
// (which is what counts connections), BENCH_THREADS threads and one light inline route.
import mpm from 'fastify-mpm'
import { serve, threads } from './common.js'

await serve(async (app) => {
  await app.register(mpm, { threads, status: true })
})
