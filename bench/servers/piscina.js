// fastify-piscina 4 (piscina 3), the existing plugin for the same job, with its defaults and
// the same thread count. It registers on fastify 5 as is: its fastify-plugin metadata asks for
// fastify '>=1.0.0'. It does not destroy its pool on close, so this server does.
import fastifyPiscina from 'fastify-piscina'
import { cpuModule, payloadModule, payloadOf, serve, sometimesSlowModule, threads, trivialModule } from './common.js'

await serve(async (app) => {
  await app.register(fastifyPiscina, { filename: trivialModule.href, minThreads: threads, maxThreads: threads })
  app.addHook('onClose', async () => { await app.piscina.destroy() })
  app.get('/trivial', async (request) => app.runTask(payloadOf(request)))
  app.get('/cpu', async (request) => app.piscina.run(payloadOf(request), { filename: cpuModule.href }))
  app.get('/json', async (request) => app.piscina.run(payloadOf(request), { filename: payloadModule.href }))
  app.get('/sometimes-slow', async (request) => app.piscina.run(payloadOf(request), { filename: sometimesSlowModule.href }))
})
