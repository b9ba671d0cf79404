// The load generator, run as its own process (bench/lib/loadgens.js forks it) so that the
// server's CPU time is the server's alone. Three modes, asked for over IPC:
// - cannon: autocannon's closed loop (N connections, each sends its next request when the last
//   is answered). Latencies are recorded here from autocannon's per-response times, in float
//   ms: its own histogram keeps whole milliseconds, too coarse for sub-ms routes.
// - paced: a light probe beside a heavy load: one keep-alive connection, one request at a time,
//   at most `rate` per second. Each latency is that request's own response time, which is what
//   a user behind a blocked event loop waits. Not an open loop: offered faster than a blocked
//   server answers, an open loop measures its own queue growing over the run, not the server.
//   `connections` > 1 runs that many such lanes at rate / connections each: a steady load below
//   the server's capacity, where a closed loop would drive it to saturation.
// - download: streamed responses (the stream scenario): `connections` lanes, each downloading the
//   URL again and again until `duration` s (or `count` times), counting and discarding the bytes,
//   optionally reading no faster than `bytesPerSecond` (a slow client: the server must hold back).
import http from 'node:http'
import { performance } from 'node:perf_hooks'
import autocannon from 'autocannon'

process.on('message', async (msg) => {
  try {
    const modes = { paced, cannon, download }
    const result = await modes[msg.mode](msg.opts)
    process.send({ id: msg.id, result })
  } catch (err) {
    process.send({ id: msg.id, error: err?.stack ?? String(err) })
  }
})
process.on('disconnect', () => process.exit(0))

function summarize (latencies, seconds, counts) {
  latencies.sort((a, b) => a - b)
  const pick = (q) => latencies.length === 0 ? NaN : latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]
  return {
    ...counts,
    seconds,
    rps: counts.ok / seconds,
    p50: pick(0.5),
    p90: pick(0.9),
    p99: pick(0.99),
    max: latencies.length === 0 ? NaN : latencies[latencies.length - 1]
  }
}

async function cannon ({ url, connections, duration, method = 'GET' }) {
  const latencies = []
  let non2xx = 0
  const started = performance.now()
  // Latencies by response size: a route whose slow answers are longer (sometimes-slow.js) gets
  // its fast requests' percentiles from the most common size.
  const bySize = new Map()
  const instance = autocannon({ url, connections, duration, method })
  instance.on('response', (_client, statusCode, bytes, responseTime) => {
    if (statusCode < 200 || statusCode >= 300) {
      non2xx++
      return
    }
    latencies.push(responseTime)
    if (!bySize.has(bytes)) bySize.set(bytes, [])
    bySize.get(bytes).push(responseTime)
  })
  const result = await instance
  const seconds = (performance.now() - started) / 1000
  const counts = { requests: latencies.length + non2xx, ok: latencies.length, non2xx, errors: result.errors + result.timeouts }
  const fast = [...bySize.values()].sort((a, b) => b.length - a.length)[0] ?? []
  const { p50: fastP50, p99: fastP99 } = summarize(fast, seconds, { ok: fast.length })
  return { ...summarize(latencies, seconds, counts), fastP50, fastP99, fast: fast.length }
}

async function paced ({ url, rate, duration, timeout = 10_000, connections = 1 }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections })
  const latencies = []
  const bySize = new Map()
  let non2xx = 0
  let errors = 0
  const interval = 1000 * connections / rate
  const t0 = performance.now()
  const end = t0 + duration * 1000
  const lane = async (offset) => {
    let next = t0 + offset
    while (next < end) {
      const wait = next - performance.now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      const issued = performance.now()
      try {
        const { status, bytes } = await get(url, agent, timeout)
        const ms = performance.now() - issued
        if (status >= 200 && status < 300) {
          latencies.push(ms)
          if (!bySize.has(bytes)) bySize.set(bytes, [])
          bySize.get(bytes).push(ms)
        } else {
          non2xx++
        }
      } catch {
        errors++
      }
      // A slot missed while waiting is skipped, not sent late in a burst.
      next = Math.max(next + interval, performance.now())
    }
  }
  await Promise.all(Array.from({ length: connections }, (_, i) => lane(i * interval / connections)))
  agent.destroy()
  const seconds = (performance.now() - t0) / 1000
  // As in cannon(): the fast requests of a route whose slow answers are longer, by size.
  const fast = [...bySize.values()].sort((a, b) => b.length - a.length)[0] ?? []
  const { p50: fastP50, p99: fastP99 } = summarize(fast, seconds, { ok: fast.length })
  return { ...summarize(latencies, seconds, { requests: latencies.length + non2xx + errors, ok: latencies.length, non2xx, errors }), fastP50, fastP99, fast: fast.length }
}

function get (url, agent, timeout) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, timeout }, (res) => {
      let bytes = 0
      res.on('data', (chunk) => { bytes += chunk.length })
      res.on('end', () => resolve({ status: res.statusCode, bytes }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
  })
}

async function download ({ url, connections = 1, duration, count = 1, bytesPerSecond, timeout = 300 }) {
  let bytes = 0
  let ok = 0
  let non2xx = 0
  let errors = 0
  let firstError
  const t0 = performance.now()
  const end = duration === undefined ? Infinity : t0 + duration * 1000
  const lane = async () => {
    for (let i = 0; duration === undefined ? i < count : performance.now() < end; i++) {
      try {
        const r = await fetchDiscarding(url, { bytesPerSecond, timeout })
        bytes += r.bytes
        if (r.status === 200 && r.complete) {
          ok++
        } else {
          non2xx++
          firstError ??= `HTTP ${r.status}${r.complete ? '' : ' (cut short)'}: ${r.head}`
          // A failing route answers at once: do not spin on it.
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
      } catch (err) {
        errors++
        firstError ??= err.message
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
  }
  await Promise.all(Array.from({ length: connections }, lane))
  const seconds = (performance.now() - t0) / 1000
  return { requests: ok + non2xx + errors, ok, non2xx, errors, bytes, seconds, firstError }
}

/**
 * One GET; the body is counted and dropped. `head`: the first bytes of a non-200 answer (its
 * error code). `complete`: the body ended normally (a destroyed socket mid-body is not).
 */
function fetchDiscarding (url, { bytesPerSecond, timeout }) {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const req = http.get(url, { agent: false }, (res) => {
      let bytes = 0
      let head = ''
      res.on('data', (chunk) => {
        bytes += chunk.length
        if (res.statusCode !== 200 && head.length < 200) head += chunk.toString('utf8', 0, 200)
        if (bytesPerSecond === undefined) return
        // A slow reader: stop reading until the schedule catches up; TCP holds the rest back.
        const due = started + bytes / bytesPerSecond * 1000
        const wait = due - performance.now()
        if (wait > 1) {
          res.pause()
          setTimeout(() => res.resume(), wait)
        }
      })
      res.on('end', () => { clearTimeout(timer); resolve({ status: res.statusCode, bytes, head: head.slice(0, 200), complete: true }) })
      res.on('aborted', () => { clearTimeout(timer); resolve({ status: res.statusCode, bytes, head: head.slice(0, 200), complete: false }) })
      res.on('error', () => { clearTimeout(timer); resolve({ status: res.statusCode, bytes, head: head.slice(0, 200), complete: false }) })
    })
    const timer = setTimeout(() => req.destroy(new Error(`download did not finish within ${timeout} s`)), timeout * 1000)
    req.on('error', (err) => { clearTimeout(timer); reject(err) })
  })
}
