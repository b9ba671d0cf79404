// Named pools (bulkheads) and a process-isolated pool. The app module's default export builds the
// app and returns it, not listening; run alone it listens on PORT (default 3000).
//   node examples/pools/app.js
//   npx fastify-mpm start examples/pools/app.js --processes 2 --threads 1
import { pathToFileURL } from 'node:url'
import Fastify from 'fastify'
import mpm, { offload } from 'fastify-mpm'

const handler = (name) => new URL(`./handlers/${name}.js`, import.meta.url)

export default async function build () {
  const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'warn' } })
  await app.register(mpm, {
    // No `threads`: the default pool gets 1 to cores threads, or the CLI's --threads.
    status: true,
    pools: {
      // A slow report render: one thread and a short queue, so a spike gets 503s here and nowhere else.
      reports: { threads: 1, maxQueue: 4, taskTimeout: 10_000 },
      // Prefork for handlers that are not thread-safe (a native addon): each runs in a child process.
      legacy: { threads: 1, isolation: 'process' }
    }
  })
  app.get('/report', offload(handler('report'), { pool: 'reports' }))
  app.get('/price', offload(handler('price')))
  app.get('/thumb', offload(handler('legacy'), { pool: 'legacy' }))
  app.get('/crash', offload(handler('legacy'), { pool: 'legacy', export: 'crash' }))
  app.get('/hello', async () => ({ hello: 'world', pid: process.pid }))
  app.get('/pools', async () => Object.fromEntries(Object.entries(app.mpm.poolStats())
    .map(([name, s]) => [name, { busy: s.busy, queued: s.queued, maxQueue: s.maxQueue, completed: s.completed, rejected: s.rejected }])))
  return app
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const app = await build()
  await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' })
  console.log(`listening on ${app.listeningOrigin}`)
  const stop = async () => { await app.close(); process.exit(0) }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}
