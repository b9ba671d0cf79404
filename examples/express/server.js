// The app alone, one process: what the cluster does for you, written out. Graceful stop is the
// two lines in the signal handler: server.close(), then await mpm.close().
import build from './app.js'

const app = build()
const { mpm } = app.locals
// Express has no ready(): a missing handler module or export fails here, before listening.
await mpm.ready()

const server = app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1', () => {
  const url = `http://127.0.0.1:${server.address().port}`
  console.log(`
fastify-mpm Express example listening on ${url}

  curl ${url}/fib/30            CPU-heavy, runs in a worker thread
  curl ${url}/hello             light, answered by the main event loop
  curl ${url}/server-status?auto

Ctrl-C stops it gracefully (in-flight requests finish first).
`)
})

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    server.close()      // stop accepting; idle keep-alive connections close now
    await mpm.close()   // 503 for new offloaded work, running tasks finish, busy connections end after their answer
  })
}
