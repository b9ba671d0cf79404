// Everything on the main thread: the baseline for dispatch cost, and the event loop a
// CPU-heavy route blocks.
import cpu from '../handlers/cpu.js'
import payload from '../handlers/payload.js'
import trivial from '../handlers/trivial.js'
import { serve } from './common.js'

await serve(async (app) => {
  app.get('/trivial', async () => trivial())
  app.get('/cpu', async () => cpu())
  app.get('/json', async (request) => payload(request))
})
