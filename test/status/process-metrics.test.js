// Node's process metrics beside the pool's, behind `metrics: { processMetrics: true }`: off by
// default; on, one series per process labelled `pid`, in one process and across a cluster.
// The "off" cases come first: prom-client's registry is per process and collection, once on, stays on.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { cluster } from 'fastify-mpm'
import { send, startApp } from '../helpers/app.js'

const NAMES = ['process_cpu_user_seconds_total', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_gc_duration_seconds_count']

/** pid label values of each sample of `name` in a Prometheus text page. */
function pidsOf (text, name) {
  return [...text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} `, 'gm'))].map((m) => /pid="(\d+)"/.exec(m[1])?.[1])
}

async function startCluster (processMetrics) {
  process.env.FIXTURE_PROCESS_METRICS = processMetrics ? '1' : '0'
  try {
    return await cluster({
      app: new URL('../fixtures/status/process-metrics-app.js', import.meta.url),
      processes: 2,
      listen: { port: 0, host: '127.0.0.1' },
      gracefulTimeout: 5000,
      signals: false,
      logger: false
    })
  } finally {
    delete process.env.FIXTURE_PROCESS_METRICS
  }
}

async function stop (handle) {
  const pids = handle.children().map((c) => c.pid)
  await Promise.race([handle.stop(), sleep(10_000)])
  for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch {} }
}

test('a cluster without the option serves no process metrics', { timeout: 60_000 }, async (t) => {
  const handle = await startCluster(false)
  t.after(() => stop(handle))
  const res = await send(`${handle.address.url}/metrics`)
  assert.equal(res.status, 200)
  assert.match(res.text, /^fastify_mpm_threads\{/m)
  for (const name of NAMES) assert.doesNotMatch(res.text, new RegExp(`^${name}`, 'm'), `${name} is off by default`)
})

test('a cluster with metrics: { processMetrics: true }: each process\'s CPU, heap, event-loop lag and GC, labelled with its pid', { timeout: 60_000 }, async (t) => {
  const handle = await startCluster(true)
  t.after(() => stop(handle))
  const children = handle.children().map((c) => String(c.pid)).sort()
  const res = await send(`${handle.address.url}/metrics`)
  assert.equal(res.status, 200)
  for (const name of NAMES.slice(0, 3)) {
    assert.deepEqual(pidsOf(res.text, name).sort(), children, `${name}: one series per process`)
  }
  assert.match(res.text, /^# TYPE process_cpu_user_seconds_total counter$/m)
  assert.match(res.text, /^fastify_mpm_threads\{/m, 'beside the pool\'s')
})

test('one process: off by default, on with the option; a wrong type or a misplaced key is refused', { timeout: 30_000 }, async (t) => {
  const off = await startApp({ threads: 1, metrics: true })
  const before = await off.request('/metrics')
  await off.close()
  for (const name of NAMES) assert.doesNotMatch(before.text, new RegExp(`^${name}`, 'm'))

  await assert.rejects(startApp({ threads: 1, metrics: { processMetrics: 'yes' } }), { code: 'FST_MPM_INVALID_OPTION', message: /metrics\.processMetrics/ })
  await assert.rejects(startApp({ threads: 1, status: { processMetrics: true } }), { code: 'FST_MPM_INVALID_OPTION', message: /status\.processMetrics/ })

  const on = await startApp({ threads: 1, metrics: { processMetrics: true } })
  t.after(() => on.close())
  const res = await on.request('/metrics')
  assert.equal(res.status, 200)
  assert.deepEqual(pidsOf(res.text, 'process_cpu_user_seconds_total'), [String(process.pid)])
  assert.deepEqual(pidsOf(res.text, 'nodejs_heap_size_used_bytes'), [String(process.pid)])
})
