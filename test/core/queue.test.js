// The bounded queue in front of the threads: early 503s, and tasks dropped when their client leaves.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { offload } from 'fastify-mpm'
import { fixture, startApp } from '../helpers/app.js'
import { tempDir, waitFor } from '../helpers/util.js'

const faults = fixture('faults.js')

test('queue full → 503 with Retry-After at once; the queue never exceeds maxQueue', { timeout: 30_000 }, async (t) => {
  const dir = tempDir()
  t.after(dir.remove)
  const srv = await startApp({ threads: 1, maxQueue: 2, retryAfter: 7, taskTimeout: 10_000 }, (app) => {
    app.get('/gated', offload(faults, { export: 'gated' }))
    app.get('/light', async () => ({ light: true }))
  })
  t.after(srv.close)
  const gate = dir.gate()
  const { mpm } = srv.app
  const events = []
  mpm.onTask((event) => events.push(event))
  let maxQueuedSeen = 0
  const sampler = setInterval(() => { maxQueuedSeen = Math.max(maxQueuedSeen, mpm.stats().queued) }, 1)
  t.after(() => clearInterval(sampler))

  // One running, two waiting: the pool is full.
  const held = [1, 2, 3].map(() => srv.request(`/gated?gate=${encodeURIComponent(gate.path)}`))
  await waitFor(() => mpm.stats().busy === 1 && mpm.stats().queued === 2, { what: '1 busy + 2 queued' })

  // Everything beyond is refused while the gate is still shut: refusals do not wait for a thread.
  const flood = await Promise.all(Array.from({ length: 12 }, () => srv.request('/gated')))
  assert.equal(gate.isOpen(), false)
  for (const res of flood) {
    assert.equal(res.status, 503)
    assert.equal(res.json().code, 'FST_MPM_QUEUE_FULL')
    assert.equal(res.headers['retry-after'], '7')
  }
  const stats = mpm.stats()
  assert.equal(stats.rejected, 12)
  assert.equal(stats.queued, 2)
  // The main loop still serves light routes while the pool is saturated.
  assert.equal((await srv.request('/light')).status, 200)

  gate.open()
  const done = await Promise.all(held)
  for (const res of done) assert.equal(res.status, 200)
  clearInterval(sampler)
  assert.ok(maxQueuedSeen <= 2, `queued reached ${maxQueuedSeen} > maxQueue 2`)
  assert.equal(mpm.stats().completed, 3)
  assert.equal(mpm.stats().queued, 0)
  // Observers (status page, metrics) hear of every request, refused ones included.
  assert.equal(events.filter((e) => e.result === 'rejected').length, 12)
  assert.equal(events.filter((e) => e.result === 'ok').length, 3)
  assert.equal(events.length, 15)
  assert.deepEqual(new Set(events.map((e) => e.route)), new Set(['GET /gated']))
})

test('a flood against a small queue: every request answered 200 or 503, queue bounded', { timeout: 30_000 }, async (t) => {
  const srv = await startApp({ threads: 1, maxQueue: 3, taskTimeout: 10_000 }, (app) => {
    app.get('/sleep', offload(faults, { export: 'sleep' }))
  })
  t.after(srv.close)
  const { mpm } = srv.app
  let maxQueuedSeen = 0
  const sampler = setInterval(() => { maxQueuedSeen = Math.max(maxQueuedSeen, mpm.stats().queued) }, 1)
  t.after(() => clearInterval(sampler))
  const results = await Promise.all(Array.from({ length: 40 }, () => srv.request('/sleep?ms=20')))
  clearInterval(sampler)
  const ok = results.filter((r) => r.status === 200).length
  const busy = results.filter((r) => r.status === 503)
  assert.equal(ok + busy.length, 40, `unexpected statuses: ${results.map((r) => r.status)}`)
  assert.ok(ok >= 4, `at least the running task and a full queue succeed, got ${ok}`)
  assert.ok(busy.length > 0, 'some requests must be refused')
  for (const res of busy) assert.ok(res.headers['retry-after'] !== undefined)
  assert.ok(maxQueuedSeen <= 3, `queued reached ${maxQueuedSeen}`)
  assert.equal(mpm.stats().rejected, busy.length)
  assert.equal(mpm.stats().completed, ok)
})

test('a client that disconnects while its task is queued: the task is dropped unrun', { timeout: 30_000 }, async (t) => {
  const dir = tempDir()
  t.after(dir.remove)
  const srv = await startApp({ threads: 1, maxQueue: 10, taskTimeout: 10_000 }, (app) => {
    app.get('/gated', offload(faults, { export: 'gated' }))
  }, { logLevel: 'debug' })
  t.after(srv.close)
  const { mpm } = srv.app
  const events = []
  mpm.onTask((event) => events.push(event))
  const gate = dir.gate()
  const mark = dir.file('ran.txt')
  const q = (s) => encodeURIComponent(s)

  const first = srv.request(`/gated?gate=${q(gate.path)}&mark=${q(mark)}`)
  await waitFor(() => mpm.stats().busy === 1, { what: 'first task running' })

  // A raw socket: its request waits in the queue; then the client goes away.
  const leaver = connect(new URL(srv.url).port, '127.0.0.1')
  await new Promise((resolve) => leaver.once('connect', resolve))
  leaver.write(`GET /gated?mark=${q(mark)}&who=leaver HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
  // And one through undici with an AbortController.
  const ac = new AbortController()
  const aborted = srv.request(`/gated?mark=${q(mark)}&who=aborted`, { signal: ac.signal }).then(
    () => assert.fail('the aborted request must not get a response'),
    (err) => err)
  await waitFor(() => mpm.stats().queued === 2, { what: 'two tasks queued' })

  leaver.destroy()
  ac.abort()
  assert.equal((await aborted).name, 'AbortError')
  await waitFor(() => mpm.stats().dropped === 2, { what: 'both queued tasks dropped' })
  assert.equal(mpm.stats().queued, 0)
  // A client leaving is no server fault: one debug line each, no error, no stack.
  const dropped = (l) => /client went away/.test(l.msg ?? '') || l.err?.code === 'FST_MPM_TASK_DROPPED'
  await waitFor(() => srv.logs.filter(dropped).length === 2, { what: 'two log lines for the dropped tasks' })
  for (const line of srv.logs.filter(dropped)) {
    assert.equal(line.level, 20, JSON.stringify(line))
    assert.equal(line.err, undefined, 'no error object, so no stack')
    assert.equal(line.offload.route, 'GET /gated')
  }
  assert.deepEqual(srv.logs.filter((l) => l.level >= 50), [])

  gate.open()
  assert.equal((await first).status, 200)
  const after = await srv.request(`/gated?mark=${q(mark)}`)
  assert.equal(after.status, 200)
  // Only the first and the last request ran their handler.
  const ran = dir.read('ran.txt').trim().split('\n')
  assert.deepEqual(ran, [(await first).json().id, after.json().id])
  assert.equal(mpm.stats().completed, 2)
  assert.deepEqual(events.map((e) => e.result).sort(), ['dropped', 'dropped', 'ok', 'ok'])
})
