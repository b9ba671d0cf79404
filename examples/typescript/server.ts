// Run with: npx tsx examples/typescript/server.ts
import Fastify from 'fastify'
import mpm, { offload } from 'fastify-mpm'

const app = Fastify({ logger: true })
await app.register(mpm, { threads: 2 })

app.get<{ Params: { n: string } }>('/fib/:n', offload(new URL('./handlers/fib.ts', import.meta.url)))

const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' })
console.log(`try: curl ${address}/fib/30`)

// Ctrl-C or SIGTERM: let requests in flight finish, close the pool, exit 0.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
