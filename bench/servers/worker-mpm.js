// A server of the worker-MPM comparison: bench/servers/worker-mpm-app.js as one plain process
// (BENCH_CLUSTER=0: the plugin alone) or under fastify-mpm's cluster() with BENCH_PROCESSES
// processes; BENCH_THREADS threads per process (0 = inline). BENCH_PIN_CPUS pins the server
// before anything is forked, so the cluster's children and every thread inherit the mask.
// Answers the orchestrator's usage requests for the whole process tree (primary + children,
// read from /proc), as bench/lib/server.js expects: { cpuUs, rss } plus pss and per-process figures.
import { pin } from '../lib/affinity.js'
import { treeUsage } from '../lib/proctree.js'

if (process.env.BENCH_PIN_CPUS) pin(process.pid, process.env.BENCH_PIN_CPUS)

const appModule = new URL('./worker-mpm-app.js', import.meta.url)
const clustered = process.env.BENCH_CLUSTER === '1'
const processes = Number(process.env.BENCH_PROCESSES ?? 1)
const threads = Number(process.env.BENCH_THREADS ?? 0)

let port
let stop
if (clustered) {
  const { cluster } = await import('fastify-mpm')
  const handle = await cluster({
    app: appModule,
    processes,
    threads,
    listen: { port: 0, host: '127.0.0.1' },
    logger: false,
    // The orchestrator stops this process with SIGTERM; it stops the cluster itself.
    signals: false,
    gracefulTimeout: 5000
  })
  port = handle.address.port
  stop = () => handle.stop()
} else {
  // What the plugin reads when the app gives no `threads` (the CLI's --threads does the same).
  process.env.FASTIFY_MPM_THREADS = String(threads)
  const { default: build } = await import(appModule)
  const app = await build()
  await app.listen({ port: 0, host: '127.0.0.1' })
  port = app.server.address().port
  stop = () => app.close()
}

let closing = false
const close = async () => {
  if (closing) return
  closing = true
  const timer = setTimeout(() => process.exit(1), 15_000)
  timer.unref()
  try { await stop() } finally { process.exit(0) }
}
process.on('SIGTERM', close)
process.on('SIGINT', close)
process.on('disconnect', close)
process.on('message', (msg) => {
  if (msg?.cmd !== 'usage') return
  const { cpuUs, rss, pss, processes: tree } = treeUsage(process.pid)
  process.send({ id: msg.id, usage: { cpuUs, rss, pss, tree } })
})
process.send({ ready: true, port, pid: process.pid })
