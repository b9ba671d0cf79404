// Streams across the thread boundary: a CSV export made in a worker thread and streamed to the
// client as it is made (the client's reading speed paces the generator), and an upload whose raw
// body is streamed into a thread and hashed there, never buffered whole on either side.
import Fastify from 'fastify'
import mpm, { offload } from 'fastify-mpm'

const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'info' } })

// streamBuffer: at most about this many bytes wait between a thread's stream and the socket.
await app.register(mpm, { threads: 2, streamBuffer: 1024 * 1024 })

app.get('/export.csv', {
  schema: { querystring: { type: 'object', properties: { rows: { type: 'integer', minimum: 0, maximum: 50_000_000 } } } }
}, offload(new URL('./handlers/export.js', import.meta.url)))

// body: 'stream': req.body in the thread is the raw request body as a Node Readable. Fastify's
// bodyLimit still applies (413); this route allows 1 GiB.
app.post('/upload', { bodyLimit: 1024 ** 3 }, offload(new URL('./handlers/upload.js', import.meta.url), { body: 'stream' }))

app.get('/hello', async () => ({ hello: 'world' }))

const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' })
console.log(`
fastify-mpm streaming example listening on ${address}

  curl -s '${address}/export.csv?rows=5'
  curl -s -o export.csv '${address}/export.csv?rows=10000000'      ~300 MB, made in a thread as you read it
  head -c 100000000 /dev/urandom > big.bin && curl -s --data-binary @big.bin -H 'content-type: application/octet-stream' ${address}/upload
`)

// Ctrl-C or SIGTERM: let requests in flight finish, close the pool, exit 0.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
