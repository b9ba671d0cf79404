// What every benchmark server shares: a Fastify app with the light inline `/hello` route, the
// variant's `/trivial`, `/cpu`, `/json` and `/sometimes-slow` routes (added by `build`), listening on 127.0.0.1:0, and an
// IPC link to the orchestrator (bench/lib/server.js): it announces its port, answers usage
// requests with the process's CPU time (all threads included: they live in this process), the
// main event loop's active time and RSS, and closes cleanly on SIGTERM or when the orchestrator goes away.
import { performance } from 'node:perf_hooks'
import Fastify from 'fastify'
import Tinypool from 'tinypool'

export const threads = Number(process.env.BENCH_THREADS ?? 2)
export const trivialModule = new URL('../handlers/trivial.js', import.meta.url)
export const cpuModule = new URL('../handlers/cpu.js', import.meta.url)
export const payloadModule = new URL('../handlers/payload.js', import.meta.url)
export const sometimesSlowModule = new URL('../handlers/sometimes-slow.js', import.meta.url)

/** The hand-written baseline's pool: tinypool's defaults, BENCH_THREADS threads; BENCH_ATOMICS=0 turns useAtomics off. */
export function handWrittenPool () {
  return new Tinypool({
    filename: trivialModule.href,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 30_000,
    useAtomics: process.env.BENCH_ATOMICS !== '0'
  })
}

/** `BENCH_PAYLOAD` picks what a hand-written handler sends to its thread. */
export function payloadOf (request) {
  switch (process.env.BENCH_PAYLOAD ?? 'small') {
    case 'none': return undefined
    // The same fields fastify-mpm copies for every offloaded request.
    case 'request': return {
      id: request.id,
      method: request.method,
      url: request.url,
      params: request.params,
      query: request.query,
      headers: request.headers,
      body: request.body,
      ip: request.ip,
      hostname: request.hostname
    }
    default: return { params: request.params, query: request.query }
  }
}

export async function serve (build) {
  // No logger: a log line per request would cost more than the dispatch being measured.
  const app = Fastify({ logger: false })
  app.get('/hello', async () => ({ hello: 'world' }))
  await build(app)
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
    const { user, system } = process.cpuUsage()
    // The main event loop's active time: what the main thread spent, threads excluded.
    const mainMs = performance.eventLoopUtilization().active
    process.send({ id: msg.id, usage: { cpuUs: user + system, mainMs, rss: process.memoryUsage().rss } })
  })
  process.send({ ready: true, port: app.server.address().port, pid: process.pid })
}
