// The bulkhead check, shared by the Fastify and Express tests: a route's latency idle, then while
// a slow route is hammered until its pool answers 503s. Bounded in requests and time, loopback only.
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'

function p99 (samples) {
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)]
}

/** `count` requests to `path`, one at a time: latencies (ms) of the 200s and every status seen. */
async function measure (client, path, count) {
  const latencies = []
  const statuses = {}
  for (let i = 0; i < count; i++) {
    const start = performance.now()
    const res = await client.request({ path, method: 'GET' })
    await res.body.arrayBuffer()
    statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1
    if (res.statusCode === 200) latencies.push(performance.now() - start)
  }
  return { latencies, statuses }
}

/**
 * Idle p99 of `fastPath`, then its p99 and statuses while `lanes` connections keep `slowPath`
 * busy (at most `maxSlow` requests, `maxMs` in all); the slow route must be answering 503s before
 * the fast route is measured.
 */
export async function saturate (url, { slowPath = '/slow', fastPath = '/fast', lanes = 16, samples = 60, maxSlow = 2000, maxMs = 20_000 } = {}) {
  const fastClient = new Pool(url, { connections: 1, pipelining: 1 })
  const slowClient = new Pool(url, { connections: lanes, pipelining: 1 })
  const deadline = Date.now() + maxMs
  try {
    await measure(fastClient, fastPath, 10) // warm: threads started, module loaded
    const idle = await measure(fastClient, fastPath, samples)
    const slow = { sent: 0, statuses: {} }
    let stop = false
    const lane = async () => {
      while (!stop && slow.sent < maxSlow && Date.now() < deadline) {
        slow.sent++
        try {
          const res = await slowClient.request({ path: slowPath, method: 'GET' })
          await res.body.arrayBuffer()
          slow.statuses[res.statusCode] = (slow.statuses[res.statusCode] ?? 0) + 1
          // A 503 comes back at once: pause, so the hammer loads the pool, not this test's CPU.
          if (res.statusCode === 503) await sleep(10)
        } catch {
          slow.statuses.error = (slow.statuses.error ?? 0) + 1
        }
      }
    }
    const hammer = Promise.all(Array.from({ length: lanes }, lane))
    while ((slow.statuses[503] ?? 0) === 0 && Date.now() < deadline) await sleep(10)
    const saturated = (slow.statuses[503] ?? 0) > 0
    const loaded = await measure(fastClient, fastPath, samples)
    stop = true
    await hammer
    return {
      saturated,
      idleP99: p99(idle.latencies),
      loadedP99: loaded.latencies.length === 0 ? Infinity : p99(loaded.latencies),
      fastStatuses: loaded.statuses,
      slowStatuses: slow.statuses
    }
  } finally {
    await fastClient.destroy().catch(() => {})
    await slowClient.destroy().catch(() => {})
  }
}

/**
 * The fast route kept its latency and never got a 503: p99 under load within 3× its idle p99,
 * plus a slack for a shared machine (the slow pool's 503s still cost the event loop something).
 */
export function bound (idleP99) { return 3 * idleP99 + 50 }

export function suffered (r) {
  return (r.fastStatuses[503] ?? 0) > 0 || Object.keys(r.fastStatuses).some((s) => s !== '200') || r.loadedP99 > bound(r.idleP99)
}
