// Express with everything on the main thread: the event loop a CPU-heavy route blocks.
import cpu from '../handlers/cpu.js'
import trivial from '../handlers/trivial.js'
import { serveExpress } from './express-common.js'

await serveExpress((app) => {
  app.get('/trivial', (req, res) => { res.json(trivial()) })
  app.get('/cpu', (req, res) => { res.json(cpu()) })
})
