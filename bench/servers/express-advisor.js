// The advisor's cost under Express (issue 19): createMpm() as a user would, a trivial inline
// route, the advisor on (BENCH_ADVISOR unset) or off (BENCH_ADVISOR=0; off is the default). The first request hands the mpm
// its server (what the cluster does at start), in both variants.
import { createMpm } from 'fastify-mpm/express'
import trivial from '../handlers/trivial.js'
import { threads } from './common.js'
import { serveExpress } from './express-common.js'

const log = { child: () => log }
for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal']) log[level] = () => {}

await serveExpress((app) => {
  const mpm = createMpm({ threads, logger: log, advisor: process.env.BENCH_ADVISOR !== '0' })
  let attached = false
  app.use((req, res, next) => {
    if (!attached) { attached = true; mpm.attach(req.socket.server) }
    next()
  })
  app.get('/trivial', (req, res) => { res.json(trivial()) })
  return async () => { await mpm.close() }
})
