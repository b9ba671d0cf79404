// Run with: npx tsx examples/typescript/server.ts
import Fastify from 'fastify'
import mpm, { offload } from 'fastify-mpm'

const app = Fastify({ logger: true })
await app.register(mpm, { threads: 2 })

app.get<{ Params: { n: string } }>('/fib/:n', offload(new URL('./handlers/fib.ts', import.meta.url)))

const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' })
console.log(`try: curl ${address}/fib/30`)
