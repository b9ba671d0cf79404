// The Express app module: its default export builds the app and returns it, not listening, so
// the same file runs alone (server.js) and under the cluster (`fastify-mpm start`), which gets the
// worker MPM ready before listening and closes it after the server on reload and stop.
import express from 'express'
import { createMpm } from 'fastify-mpm/express'
import { pino } from 'pino'

export default function build () {
  // No `threads` here: the CLI's --threads sets the default in every process (alone: 1 to the cores).
  const mpm = createMpm({ maxQueue: 64, taskTimeout: 10_000, logger: pino({ level: process.env.LOG_LEVEL ?? 'info' }) })
  const app = express()
  app.locals.mpm = mpm

  // CPU-heavy: runs in one of this process's worker threads.
  app.get('/fib/:n', mpm.offload(new URL('./handlers/fib.js', import.meta.url)))
  // Light: answered by the process's main event loop, even while the threads are busy.
  app.get('/hello', (req, res) => { res.json({ hello: 'world', pid: process.pid }) })
  // The operator view: mod_status-style page (HTML, ?auto, ?json) and Prometheus metrics, loopback only.
  app.get('/server-status', mpm.status())
  app.get('/metrics', mpm.metrics())

  // Errors from offloaded routes arrive here like any Express error, status and Retry-After set.
  app.use((err, req, res, next) => {
    if (res.headersSent) return next(err)
    res.status(err.status ?? 500).json({ error: err.message, code: err.code })
  })
  return app
}
