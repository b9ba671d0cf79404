// app.close(): no new offloaded work, in-flight tasks finish, keep-alive clients do not hold it open.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Agent } from 'undici'
import { offload } from 'fastify-mpm'
import { fixture, send, startApp } from '../helpers/app.js'
import { tempDir, waitFor, withDeadline } from '../helpers/util.js'

const faults = fixture('faults.js')

test('close: in-flight request completes with Connection: close, new work gets 503, close is prompt', { timeout: 30_000 }, async (t) => {
  const dir = tempDir()
  const gate = dir.gate()
  let lateArrived = false
  const srv = await startApp({ threads: 1, closeTimeout: 20_000, retryAfter: 2 }, (app) => {
    app.get('/gated', offload(faults, { export: 'gated' }))
    app.get('/whoami', offload(faults, { export: 'whoami' }))
    // Gets past routing before close starts, reaches its offloaded handler once the server has
    // stopped listening (so its busy connection was not closed as idle).
    app.get('/late', {
      preHandler: async () => {
        lateArrived = true
        await waitFor(() => app.mpm.pool.closing && !app.server.listening, { what: 'close to start' })
      }
    }, offload(faults, { export: 'whoami' }))
  })
  const { mpm } = srv.app
  // A client that keeps connections open far longer than this test (the server's keep-alive is 72 s).
  const agent = new Agent({ keepAliveTimeout: 60_000, keepAliveMaxTimeout: 120_000, connections: 4 })
  t.after(async () => {
    // Whatever failed above: release the handler, cut the client, then close (never hang here).
    try { gate.open() } catch {}
    await agent.destroy().catch(() => {})
    await srv.close()
    dir.remove()
  })
  const req = (path) => send(srv.url + path, { dispatcher: agent })

  // Open keep-alive connections first, as a long-lived client would have.
  const warm = await Promise.all([req('/whoami'), req('/whoami')])
  for (const res of warm) assert.notEqual(res.headers.connection, 'close')

  const inflight = req(`/gated?gate=${encodeURIComponent(gate.path)}`)
  const late = req('/late')
  await waitFor(() => mpm.stats().busy === 1 && lateArrived, { what: 'one task running, one request in preHandler' })

  const closing = srv.app.close()
  await waitFor(() => mpm.pool.closing, { what: 'the pool to stop taking work' })

  // New offloaded work is refused: through HTTP…
  const refused = await withDeadline(late, 5000, 'the late request')
  assert.equal(refused.status, 503)
  assert.equal(refused.json().code, 'FST_MPM_CLOSING')
  assert.equal(refused.headers['retry-after'], '2')
  assert.equal(refused.headers.connection, 'close', 'a refusal during close also ends its keep-alive connection')
  // …and through app.mpm.run().
  await assert.rejects(mpm.run(fixture('run.js'), 3), (err) => {
    assert.equal(err.code, 'FST_MPM_CLOSING')
    assert.equal(err.statusCode, 503)
    return true
  })

  // The in-flight task was not cut off: it completes once its work is done.
  assert.equal(gate.isOpen(), false)
  gate.open()
  const done = await withDeadline(inflight, 5000, 'the in-flight request')
  assert.equal(done.status, 200)
  assert.equal(done.headers.connection, 'close', 'answers during close end their keep-alive connection')

  // Fastify's 72 s keep-alive would otherwise hold close() open; a generous bound, not a speed test.
  await withDeadline(closing, 8000, 'app.close() with keep-alive clients')
  assert.equal(mpm.stats().completed, 3)
})

test('close: a task still running after closeTimeout is terminated and close resolves', { timeout: 30_000 }, async (t) => {
  const srv = await startApp({ threads: 1, taskTimeout: 0, closeTimeout: 300 }, (app) => {
    app.get('/spin', offload(faults, { export: 'spin' }))
  })
  t.after(srv.close)
  const spinning = srv.request('/spin').catch((err) => ({ error: err }))
  await srv.logs.waitFor((l) => l.msg === 'spinning forever')
  // The stuck task must not hold close() open: closeTimeout bounds the wait.
  await withDeadline(srv.app.close(), 8000, 'app.close() with a stuck task')
  await srv.logs.waitFor((l) => l.level === 40 && /closeTimeout/.test(l.msg))
  const res = await withDeadline(spinning, 5000, 'the cut-off request')
  // The cut-off request is answered (503) or its connection closed; it never hangs.
  if (res.error === undefined) {
    assert.equal(res.status, 503)
    assert.equal(res.json().code, 'FST_MPM_CLOSING')
  }
})

test('close with no offloaded work in flight is immediate and idempotent with an idle keep-alive client', { timeout: 30_000 }, async (t) => {
  const srv = await startApp({ threads: 2 }, (app) => {
    app.get('/whoami', offload(faults, { export: 'whoami' }))
  })
  t.after(srv.close)
  assert.equal((await srv.request('/whoami')).status, 200)
  await srv.app.close()
  assert.equal(srv.app.mpm.pool.closing, true)
  await assert.rejects(srv.app.mpm.run(fixture('run.js'), 2), { code: 'FST_MPM_CLOSING' })
})
