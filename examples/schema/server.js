// A route whose request is validated and whose offloaded result is serialized by its JSON schema.
import Fastify from 'fastify'
import mpm, { offload } from 'fastify-mpm'

const app = Fastify({ logger: true })
await app.register(mpm, { threads: 2 })

app.post('/report', {
  schema: {
    body: {
      type: 'object',
      required: ['from', 'to'],
      properties: { from: { type: 'integer', minimum: 0 }, to: { type: 'integer', maximum: 50_000_000 } }
    },
    response: {
      200: {
        type: 'object',
        properties: { from: { type: 'integer' }, to: { type: 'integer' }, total: { type: 'number' }, computedBy: { type: 'string' } }
      }
    }
  }
}, offload(new URL('./handlers/report.js', import.meta.url)))

const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' })
console.log(`try: curl -s -X POST -H 'content-type: application/json' -d '{"from":1,"to":1000000}' ${address}/report`)

// Ctrl-C or SIGTERM: let requests in flight finish, close the pool, exit 0.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
