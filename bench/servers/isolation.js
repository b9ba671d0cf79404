// A server of the isolation comparison (`--only isolation`): fastify-mpm with BENCH_THREADS
// slots (0 = inline) of BENCH_ISOLATION ('thread' or 'process') and the trivial route offloaded.
// Answers the orchestrator's usage requests for the whole process tree (a process pool's
// children do the handlers' work), read from /proc: { cpuUs, rss, pss, tree }.
import Fastify from 'fastify'
import mpm, { offload } from 'fastify-mpm'
import { treeUsage } from '../lib/proctree.js'

const trivialModule = new URL('../handlers/trivial.js', import.meta.url)
const app = Fastify({ logger: false })
await app.register(mpm, { threads: Number(process.env.BENCH_THREADS ?? 2), isolation: process.env.BENCH_ISOLATION ?? 'thread' })
app.get('/hello', async () => ({ hello: 'world' }))
app.get('/trivial', offload(trivialModule))
await app.listen({ port: 0, host: '127.0.0.1' })

let closing = false
const close = async () => {
  if (closing) return
  closing = true
  const timer = setTimeout(() => process.exit(1), 10_000)
  timer.unref()
  try { await app.close() } finally { process.exit(0) }
}
process.on('SIGTERM', close)
process.on('SIGINT', close)
process.on('disconnect', close)
process.on('message', (msg) => {
  if (msg?.cmd !== 'usage') return
  const { cpuUs, rss, pss, processes: tree } = treeUsage(process.pid)
  process.send({ id: msg.id, usage: { cpuUs, rss, pss, tree } })
})
process.send({ ready: true, port: app.server.address().port, pid: process.pid })
