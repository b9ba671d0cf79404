// The advisor's cost (issue 19): the plugin registered as a user would, a trivial inline route,
// and the advisor on (BENCH_ADVISOR unset) or off (BENCH_ADVISOR=0; off is the default). Nothing else differs.
import mpm from 'fastify-mpm'
import trivial from '../handlers/trivial.js'
import { serve, threads } from './common.js'

await serve(async (app) => {
  await app.register(mpm, { threads, advisor: process.env.BENCH_ADVISOR !== '0' })
  app.get('/trivial', async () => trivial())
})
