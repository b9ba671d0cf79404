// Prometheus metrics in one process: thread counts by state, queue, tasks by route and result,
// the handler-duration histogram, thread restarts and event-loop utilization.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { offload } from 'fastify-mpm'
import { startApp } from '../helpers/app.js'
import { tempDir, waitFor } from '../helpers/util.js'

const handlers = new URL('../fixtures/status/handlers.js', import.meta.url)

/** Parses the text format into { 'name{a="b"}': value } with labels sorted, plus the TYPE lines. */
function parseMetrics (text) {
  const values = {}
  const types = {}
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type) types[type[1]] = type[2]
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    assert.ok(match, `not a sample line: ${JSON.stringify(line)}`)
    const labels = match[2] === undefined ? [] : match[2].match(/\w+="(?:[^"\\]|\\.)*"/g).sort()
    values[labels.length === 0 ? match[1] : `${match[1]}{${labels.join(',')}}`] = Number(match[3])
  }
  return { values, types }
}

describe('metrics', { timeout: 60_000 }, () => {
  let srv
  let dir
  const scrape = async () => {
    const res = await srv.request('/metrics')
    assert.equal(res.status, 200)
    assert.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
    return parseMetrics(res.text)
  }

  before(async () => {
    dir = tempDir()
    srv = await startApp({ threads: 1, maxQueue: 1, metrics: true }, (app) => {
      app.get('/quick', offload(handlers))
      app.get('/fail', offload(handlers, { export: 'fail' }))
      app.get('/gate', offload(handlers, { export: 'gate' }))
      app.get('/spin', offload(handlers, { export: 'spin', timeout: 300 }))
      app.get('/exit', offload(handlers, { export: 'exit' }))
    })
  })
  after(async () => { await srv?.close(); dir?.remove() })

  test('thread slots by state and queue depth, read when scraped', async () => {
    const gate = dir.gate('queue')
    const running = srv.request(`/gate?gate=${encodeURIComponent(gate.path)}`)
    let queued
    try {
      await waitFor(async () => (await scrape()).values['fastify_mpm_threads{pool="default",state="busy"}'] === 1, { timeoutMs: 10_000, what: 'a busy thread' })
      queued = srv.request(`/gate?gate=${encodeURIComponent(gate.path)}`)
      const { values, types } = await waitFor(async () => {
        const m = await scrape()
        return m.values['fastify_mpm_queue_depth{pool="default"}'] === 1 ? m : null
      }, { timeoutMs: 10_000, what: 'one queued task' })
      assert.equal(types.fastify_mpm_threads, 'gauge')
      assert.equal(values['fastify_mpm_threads{pool="default",state="idle"}'], 0)
      assert.equal(values['fastify_mpm_threads{pool="default",state="open"}'], 0)
      assert.equal(values['fastify_mpm_queue_max{pool="default"}'], 1)
      // The queue is full: the next one is rejected.
      const rejected = await srv.request(`/gate?gate=${encodeURIComponent(gate.path)}`)
      assert.equal(rejected.status, 503)
    } finally {
      gate.open()
    }
    assert.equal((await running).status, 200)
    assert.equal((await queued).status, 200)
    const { values } = await waitFor(async () => {
      const m = await scrape()
      return m.values['fastify_mpm_threads{pool="default",state="busy"}'] === 0 ? m : null
    }, { timeoutMs: 10_000, what: 'the thread idle again' })
    assert.equal(values['fastify_mpm_threads{pool="default",state="idle"}'], 1)
    assert.equal(values['fastify_mpm_queue_depth{pool="default"}'], 0)
    assert.equal(values['fastify_mpm_tasks_total{result="rejected",route="GET /gate"}'], 1)
    assert.equal(values['fastify_mpm_tasks_total{result="ok",route="GET /gate"}'], 2)
  })

  test('tasks by route and result, duration histogram, thread restarts', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await srv.request('/quick')).status, 200)
    assert.equal((await srv.request('/fail')).status, 500)
    assert.equal((await srv.request('/spin')).status, 503)
    assert.equal((await srv.request('/exit')).status, 500)
    const { values, types } = await scrape()
    assert.equal(types.fastify_mpm_tasks_total, 'counter')
    assert.equal(values['fastify_mpm_tasks_total{result="ok",route="GET /quick"}'], 3)
    assert.equal(values['fastify_mpm_tasks_total{result="error",route="GET /fail"}'], 1)
    assert.equal(values['fastify_mpm_tasks_total{result="timeout",route="GET /spin"}'], 1)
    assert.equal(values['fastify_mpm_tasks_total{result="crashed",route="GET /exit"}'], 1)

    assert.equal(types.fastify_mpm_handler_duration_seconds, 'histogram')
    assert.equal(values['fastify_mpm_handler_duration_seconds_count{route="GET /quick"}'], 3)
    assert.equal(values['fastify_mpm_handler_duration_seconds_bucket{le="+Inf",route="GET /quick"}'], 3)
    assert.ok(values['fastify_mpm_handler_duration_seconds_sum{route="GET /spin"}'] >= 0.3, 'a timed-out task counts its time until the timeout')
    assert.equal(values['fastify_mpm_handler_duration_seconds_count{route="GET /gate"}'], 2, 'a rejected task never ran: no duration')

    assert.equal(types.fastify_mpm_thread_restarts_total, 'counter')
    assert.equal(values['fastify_mpm_thread_restarts_total{pool="default",reason="timeout"}'], 1)
    assert.ok(values['fastify_mpm_thread_restarts_total{pool="default",reason="crashed"}'] >= 1)
    assert.equal(values['fastify_mpm_thread_restarts_total{pool="default",reason="recycled"}'], 0)
  })

  test('event-loop utilization of the main thread, labelled with its pid', async () => {
    const { values } = await scrape()
    const elu = values[`fastify_mpm_event_loop_utilization{pid="${process.pid}"}`]
    assert.ok(elu >= 0 && elu <= 1, `utilization ${elu}`)
  })

  test('recycled threads are counted, and stay counted after their app closes', async (t) => {
    const other = await startApp({ threads: 1, maxTasksPerThread: 2, metrics: { path: '/m' } }, (app) => {
      app.get('/recycle', offload(handlers))
    })
    t.after(() => other.close())
    for (let i = 0; i < 4; i++) assert.equal((await other.request('/recycle')).status, 200)
    const read = async (s, path) => parseMetrics((await s.request(path)).text).values['fastify_mpm_thread_restarts_total{pool="default",reason="recycled"}']
    await waitFor(async () => (await read(other, '/m')) >= 2, { timeoutMs: 10_000, what: 'two recycled threads' })
    await other.close()
    assert.ok((await read(srv, '/metrics')) >= 2, 'a closed pool\'s restarts remain in the process total')
  })
})
