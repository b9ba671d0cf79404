// Pool sizing and lifecycle: recycling, inline mode, growing and shrinking, app.mpm.run(), bursts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { offload } from 'fastify-mpm'
import { fixture, startApp } from '../helpers/app.js'
import { runConcurrently, tempDir, waitFor } from '../helpers/util.js'

const responses = fixture('responses.js')
const errors = fixture('errors.js')
const faults = fixture('faults.js')
const run = fixture('run.js')

test('maxTasksPerThread recycles threads without failing a request', { timeout: 30_000 }, async (t) => {
  const srv = await startApp({ threads: 1, maxTasksPerThread: 3, maxQueue: 100 }, (app) => {
    app.get('/whoami', offload(responses, { export: 'whoami' }))
  })
  t.after(srv.close)
  const { mpm } = srv.app
  const ids = []
  for (let i = 0; i < 9; i++) {
    const res = await srv.request('/whoami')
    assert.equal(res.status, 200)
    ids.push(res.json().threadId)
  }
  // Each thread served at most 3 requests, in a row.
  for (let i = 0; i < ids.length; i += 3) {
    assert.equal(new Set(ids.slice(i, i + 3)).size, 1, `requests ${i}..${i + 2} share a thread: ${ids}`)
  }
  assert.equal(new Set(ids).size, 3, `three threads in turn: ${ids}`)
  assert.ok(mpm.stats().recycled >= 2, `recycled ${mpm.stats().recycled}`)

  // Concurrent load across recycling: nothing fails, nothing is lost.
  const results = await runConcurrently(30, 6, () => srv.request('/whoami'))
  assert.deepEqual(results.map((r) => r.status), new Array(30).fill(200))
  const stats = mpm.stats()
  assert.equal(stats.completed, 39)
  assert.equal(stats.failed + stats.crashed + stats.rejected, 0)
  assert.ok(stats.recycled >= 12, `recycled ${stats.recycled}`)
})

test('threads: 0 runs handlers inline on the main thread, same semantics', { timeout: 30_000 }, async (t) => {
  const srv = await startApp({ threads: 0 }, (app) => {
    app.get('/json', offload(responses))
    app.get('/reply-api', offload(responses, { export: 'replyApi' }))
    app.get('/bytes', offload(responses, { export: 'bytes' }))
    app.get('/no-content', offload(responses, { export: 'noContent' }))
    app.post('/echo/:a', offload(responses, { export: 'echo' }))
    app.get('/teapot', offload(errors, { export: 'teapot' }))
    app.get('/logs', offload(errors, { export: 'logs' }))
    app.get('/run', async () => await app.mpm.run(run, 5))
  })
  t.after(srv.close)
  assert.equal(srv.app.mpm.stats().threads, 0)
  const json = await srv.request('/json')
  assert.equal(json.status, 200)
  assert.deepEqual(json.json(), { hello: 'world', threadId: 0 })

  const reply = await srv.request('/reply-api')
  assert.equal(reply.status, 201)
  assert.equal(reply.headers['x-three'], '3')

  const bytes = await srv.request('/bytes')
  assert.equal(bytes.headers['content-type'], 'application/octet-stream')
  assert.equal(bytes.body.length, 70_000)
  assert.equal(bytes.body[300], 300 % 251)

  assert.equal((await srv.request('/no-content')).status, 204)

  const echo = await srv.request('/echo/z?q=1', { json: { a: [1] } })
  assert.deepEqual([echo.json().params, echo.json().query, echo.json().body, echo.json().threadId], [{ a: 'z' }, { q: '1' }, { a: [1] }, 0])

  const teapot = await srv.request('/teapot')
  assert.equal(teapot.status, 418)
  assert.equal(teapot.json().code, 'E_TEAPOT')

  const logs = await srv.request('/logs')
  const line = await srv.logs.waitFor((l) => l.msg === 'hello from a thread')
  assert.equal(line.reqId, logs.json().id)

  const ran = await srv.request('/run')
  assert.deepEqual(ran.json(), { value: 25, threadId: 0 })
  const stats = srv.app.mpm.stats()
  assert.equal(stats.completed + stats.failed, 8)
  assert.equal(stats.failed, 1)
})

test('threads { min, max } grows to max under load; idle threads above min exit after idleTimeout', { timeout: 30_000 }, async (t) => {
  const dir = tempDir()
  t.after(dir.remove)
  const srv = await startApp({ threads: { min: 1, max: 3 }, idleTimeout: 300 }, (app) => {
    app.get('/gated', offload(faults, { export: 'gated' }))
  })
  t.after(srv.close)
  const { mpm } = srv.app
  assert.equal(mpm.stats().minThreads, 1)
  assert.equal(mpm.stats().maxThreads, 3)
  await waitFor(() => mpm.stats().threads === 1, { what: 'min threads started' })

  const gate = dir.gate()
  const q = `gate=${encodeURIComponent(gate.path)}&mark=${encodeURIComponent(dir.file('started'))}`
  const held = Array.from({ length: 5 }, () => srv.request(`/gated?${q}`))
  await waitFor(() => mpm.stats().busy === 3 && mpm.stats().queued === 2, { what: '3 busy, 2 queued' })
  assert.equal(mpm.stats().threads, 3, 'grew to max, no further')
  // Three handlers running at once: three threads really serve.
  await waitFor(() => dir.read('started')?.trim().split('\n').length === 3, { what: '3 handlers running' })
  assert.equal(mpm.stats().threads, 3)
  gate.open()
  const results = await Promise.all(held)
  for (const res of results) assert.equal(res.status, 200)
  assert.equal(new Set(results.map((r) => r.json().threadId)).size, 3, 'work spread over 3 threads')

  // Idle threads above min go away after idleTimeout; min stays.
  await waitFor(() => mpm.stats().threads === 1, { what: 'shrink back to min', timeoutMs: 10_000 })
  await new Promise((resolve) => setTimeout(resolve, 400))
  assert.equal(mpm.stats().threads, 1, 'never below min')
  assert.equal((await srv.request('/gated')).status, 200)
})

test('app.mpm.run() from an inline handler: results, bytes, errors propagate', { timeout: 30_000 }, async (t) => {
  const srv = await startApp({ threads: 1 }, (app) => {
    app.get('/square/:n', async (req) => await app.mpm.run(run, Number(req.params.n)))
    app.get('/double', async () => await app.mpm.run(run, { n: 21, ms: 5 }, { export: 'slowDouble' }))
    app.get('/bytes', async (req, reply) => {
      const buf = await app.mpm.run(run, undefined, { export: 'bytes' })
      return reply.send({ isBuffer: Buffer.isBuffer(buf), text: buf.toString() })
    })
    app.get('/fail', async () => await app.mpm.run(run, { what: 'pineapple' }, { export: 'fail' }))
    app.get('/missing', async () => await app.mpm.run(run, 1, { export: 'nope' }))
  })
  t.after(srv.close)
  const sq = await srv.request('/square/12')
  assert.equal(sq.status, 200)
  assert.equal(sq.json().value, 144)
  assert.notEqual(sq.json().threadId, 0)
  assert.equal((await srv.request('/double')).text, '42')
  assert.deepEqual((await srv.request('/bytes')).json(), { isBuffer: true, text: 'raw bytes' })

  const fail = await srv.request('/fail')
  assert.equal(fail.status, 422)
  assert.equal(fail.json().code, 'E_REFUSED')
  assert.equal(fail.json().message, 'refused pineapple')
  await assert.rejects(srv.app.mpm.run(run, { what: 'x' }, { export: 'fail' }), (err) => {
    assert.equal(err.field, 'x', 'custom properties survive')
    assert.equal(err.statusCode, 422)
    return true
  })
  const missing = await srv.request('/missing')
  assert.equal(missing.status, 500)
  assert.match(missing.json().message, /"nope"/)
})

test('queued POSTs keep their bodies and are not dropped', { timeout: 30_000 }, async (t) => {
  const srv = await startApp({ threads: 1, maxQueue: 20 }, (app) => {
    app.post('/echo/:a', offload(responses, { export: 'echo' }))
  })
  t.after(srv.close)
  const results = await Promise.all(Array.from({ length: 6 }, (_, i) => srv.request(`/echo/${i}`, { json: { i, pad: 'x'.repeat(1000) } })))
  results.forEach((res, i) => {
    assert.equal(res.status, 200, res.text)
    assert.equal(res.json().body.i, i)
    assert.equal(res.json().params.a, String(i))
  })
  assert.equal(srv.app.mpm.stats().dropped, 0)
})

test('a bounded burst: 300 requests, 20 at a time — every one answered, none lost, no errors', { timeout: 60_000 }, async (t) => {
  const srv = await startApp({ threads: 2, maxQueue: 64 }, (app) => {
    app.get('/index/:i', offload(responses, { export: 'index' }))
    app.get('/light', async () => ({ ok: true }))
  })
  t.after(srv.close)
  const results = await runConcurrently(300, 20, async (i) => {
    // Interleave some light routes: the main loop keeps serving them during the burst.
    if (i % 10 === 0) assert.equal((await srv.request('/light')).status, 200)
    return srv.request(`/index/${i}`)
  })
  const threads = new Set()
  results.forEach((res, i) => {
    assert.equal(res.status, 200, `request ${i}: ${res.status} ${res.text}`)
    assert.equal(res.json().i, i, 'each answer belongs to its request')
    threads.add(res.json().threadId)
  })
  assert.equal(threads.size, 2)
  assert.ok(!threads.has(0))
  // A batch holds its slot until its thread returns it, just after the last member's answer.
  await waitFor(() => srv.app.mpm.stats().busy === 0, { timeoutMs: 2000, what: 'nothing busy at rest' })
  const stats = srv.app.mpm.stats()
  assert.equal(stats.completed, 300)
  assert.equal(stats.failed + stats.rejected + stats.timedOut + stats.crashed + stats.dropped, 0)
  assert.equal(stats.queued, 0)
  assert.equal(stats.busy, 0)
})
