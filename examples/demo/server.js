// The demo: one CPU-heavy route offloaded to the thread pool, one light route on the main thread.
// While /fib/38 keeps the threads busy, /hello still answers at once: the event loop stays free.
import Fastify from 'fastify'
import mpm, { offload } from 'fastify-mpm'

const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'info' } })

await app.register(mpm, {
  threads: { min: 1, max: 2 },
  maxQueue: 64,
  taskTimeout: 10_000
})

app.get('/fib/:n', {
  schema: { params: { type: 'object', properties: { n: { type: 'integer', minimum: 0 } }, required: ['n'] } }
}, offload(new URL('./handlers/fib.js', import.meta.url)))

app.get('/hello', async () => ({ hello: 'world', pid: process.pid }))

app.get('/stats', async () => app.mpm.stats())

const port = Number(process.env.PORT ?? 3000)
const address = await app.listen({ port, host: process.env.HOST ?? '127.0.0.1' })

console.log(`
fastify-mpm demo listening on ${address}

  curl ${address}/fib/35     CPU-heavy, runs in a worker thread
  curl ${address}/hello      light, answered by the main event loop
  curl ${address}/stats      the pool: threads, busy, queued, completed...

Try both at once:  (curl -s ${address}/fib/40 &) ; curl -s -w ' %{time_total}s\\n' ${address}/hello
Ctrl-C stops it gracefully (in-flight requests finish first).
`)

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
