// The app module of the worker-MPM comparison (`--only mpm`, `--only scaling`), written as the
// cluster contract asks: the default export builds the app and returns it, not listening. The
// same module serves as one plain process and under fastify-mpm's cluster(). No `threads`
// option: the thread count comes from FASTIFY_MPM_THREADS, which cluster() sets in every child
// from its `threads` (and bench/servers/worker-mpm.js sets for a single process); 0 = the CPU
// route runs inline on the main thread.
import Fastify from 'fastify'
import mpm, { offload } from 'fastify-mpm'

const cpuModule = new URL('../handlers/cpu.js', import.meta.url)

export default async function build () {
  // No logger: a log line per request would cost more than the light route being measured.
  const app = Fastify({ logger: false })
  await app.register(mpm)
  app.get('/hello', async () => ({ hello: 'world' }))
  app.get('/cpu', offload(cpuModule))
  return app
}
