// The app module: its default export builds the app and returns it, not listening.
// Under the cluster:  npx fastify-mpm start examples/cluster/app.js --processes 2 --threads 2
// Alone (one process): node examples/cluster/app.js
import { pathToFileURL } from 'node:url'
import Fastify from 'fastify'
import mpm, { offload } from 'fastify-mpm'

export default async function build () {
  const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'warn' } })
  // No `threads` here: the CLI's --threads sets the default in every process.
  await app.register(mpm, { maxQueue: 64, taskTimeout: 10_000 })

  // CPU-heavy: runs in one of this process's worker threads.
  app.get('/hash', offload(new URL('./handlers/hash.js', import.meta.url)))
  // Light: answered by the process's main event loop, even while the threads are busy.
  app.get('/hello', async () => ({ hello: 'world', pid: process.pid }))
  app.get('/stats', async () => ({ pid: process.pid, ...app.mpm.stats() }))
  return app
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const app = await build()
  await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' })
  console.log(`one process listening on ${app.listeningOrigin}`)
}
