// A handler past its time limit: its thread is terminated and replaced, its request gets 503.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { offload } from 'fastify-mpm'
import { fixture, startApp } from '../helpers/app.js'
import { waitFor } from '../helpers/util.js'

const faults = fixture('faults.js')

test('taskTimeout: 503 FST_MPM_TASK_TIMEOUT, thread replaced, others unaffected', { timeout: 30_000 }, async (t) => {
  // Long enough that a replacement thread's start (charged to its first task) never reaches it
  // on a loaded CI machine; the spinning task still times out.
  const srv = await startApp({ threads: 2, taskTimeout: 1000, retryAfter: 3 }, (app) => {
    app.get('/spin', offload(faults, { export: 'spin' }))
    app.get('/sleep', offload(faults, { export: 'sleep' }))
    app.get('/whoami', offload(faults, { export: 'whoami' }))
    app.get('/light', async () => ({ light: true }))
  })
  t.after(srv.close)
  const { mpm } = srv.app
  const events = []
  mpm.onTask((event) => events.push(event))

  const spinning = srv.request('/spin')
  const spinLine = await srv.logs.waitFor((l) => l.msg === 'spinning forever')
  // While one thread burns, the other serves a concurrent offloaded request, and the main loop a light one.
  const [other, light] = await Promise.all([srv.request('/sleep?ms=50'), srv.request('/light')])
  assert.equal(other.status, 200)
  assert.notEqual(other.json().threadId, spinLine.spinning)
  assert.equal(light.status, 200)

  const res = await spinning
  assert.equal(res.status, 503)
  assert.equal(res.json().code, 'FST_MPM_TASK_TIMEOUT')
  assert.match(res.json().message, /1000 ms/)
  assert.equal(res.headers['retry-after'], '3')
  assert.equal(mpm.stats().timedOut, 1)
  const timeout = events.find((e) => e.result === 'timeout')
  assert.equal(timeout?.route, 'GET /spin')
  assert.equal(timeout.export, 'spin')
  assert.ok(timeout.durationMs >= 900, `durationMs ${timeout.durationMs}`)

  // The pool is whole again and the spinning thread is gone.
  await waitFor(() => mpm.stats().threads === 2, { what: 'pool back to 2 threads' })
  const seen = new Set()
  for (let i = 0; i < 6; i++) {
    const next = await srv.request('/whoami')
    assert.equal(next.status, 200)
    seen.add(next.json().threadId)
  }
  assert.equal(seen.has(spinLine.spinning), false, 'the terminated thread must not serve again')
})

test('per-route offload({ timeout }) overrides taskTimeout', { timeout: 30_000 }, async (t) => {
  const srv = await startApp({ threads: 1, taskTimeout: 0 }, (app) => {
    app.get('/spin', offload(faults, { export: 'spin', timeout: 300 }))
    app.get('/sleep', offload(faults, { export: 'sleep' }))
  })
  t.after(srv.close)
  // Queued behind the spinning task on the single thread: it runs on the replacement.
  const spinning = srv.request('/spin')
  await srv.logs.waitFor((l) => l.msg === 'spinning forever')
  const queued = srv.request('/sleep?ms=300')
  const res = await spinning
  assert.equal(res.status, 503)
  assert.equal(res.json().code, 'FST_MPM_TASK_TIMEOUT')
  assert.match(res.json().message, /300 ms/)
  // taskTimeout 0 = no limit: the 300 ms sleep is not cut off
  const after = await queued
  assert.equal(after.status, 200)
  assert.equal(after.json().slept, 300)
  assert.equal(srv.app.mpm.stats().timedOut, 1)
  assert.equal((await srv.request('/sleep?ms=1')).status, 200)
})

test('Fastify route handlerTimeout also terminates the offloaded thread', { timeout: 30_000 }, async (t) => {
  const srv = await startApp({ threads: 1, taskTimeout: 0 }, (app) => {
    app.get('/spin', { handlerTimeout: 400 }, offload(faults, { export: 'spin' }))
    app.get('/whoami', offload(faults, { export: 'whoami' }))
  })
  t.after(srv.close)
  const spinning = srv.request('/spin')
  const spinLine = await srv.logs.waitFor((l) => l.msg === 'spinning forever')
  const res = await spinning
  assert.equal(res.status, 503)
  assert.ok(['FST_ERR_HANDLER_TIMEOUT', 'FST_MPM_TASK_TIMEOUT'].includes(res.json().code), res.text)
  // The thread must not be left burning: it is terminated and replaced.
  await waitFor(() => srv.app.mpm.stats().timedOut === 1, { what: 'thread terminated' })
  const next = await srv.request('/whoami')
  assert.equal(next.status, 200)
  assert.notEqual(next.json().threadId, spinLine.spinning)
})

test('app.mpm.run() honours its timeout option', { timeout: 30_000 }, async (t) => {
  const srv = await startApp({ threads: 1, taskTimeout: 0 }, (app) => {
    app.get('/run', async (req) => await app.mpm.run(fixture('run.js'), { n: 2, ms: Number(req.query.ms) }, { export: 'slowDouble', timeout: 200 }))
  })
  t.after(srv.close)
  const late = await srv.request('/run?ms=5000')
  assert.equal(late.status, 503)
  assert.equal(late.json().code, 'FST_MPM_TASK_TIMEOUT')
  const ok = await srv.request('/run?ms=1')
  assert.equal(ok.status, 200)
  assert.equal(ok.text, '4')
})
