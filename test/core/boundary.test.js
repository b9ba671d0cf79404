// Every dispatched task settles exactly once and promptly, whatever crosses the boundary or
// happens to the thread: no request hangs, no slot leaks, nothing healthy is called a crash.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { offload } from 'fastify-mpm'
import { fixture, startApp } from '../helpers/app.js'
import { runConcurrently, waitFor, withDeadline } from '../helpers/util.js'

const corpus = fixture('corpus.js')
const faults = fixture('faults.js')

describe('no timeout to fall back on (taskTimeout: 0)', { timeout: 60_000 }, () => {
  let srv
  before(async () => {
    srv = await startApp({ threads: { min: 2, max: 2 }, taskTimeout: 0 }, (app) => {
      app.get('/deep', offload(corpus, { export: 'deep' }))
      app.post('/body-depth', offload(corpus, { export: 'bodyDepth' }))
      app.get('/exit', offload(faults, { export: 'exit' }))
      app.get('/whoami', offload(faults, { export: 'whoami' }))
    })
  })
  after(async () => { await srv?.close() })

  test('a result nested 2,500 deep is answered at once and the slot is freed', async () => {
    const res = await withDeadline(srv.request('/deep?depth=2500'), 5000, 'the deep answer')
    assert.equal(res.status, 200)
    let depth = 0
    for (let node = res.json(); node.next !== undefined; node = node.next) depth++
    assert.equal(depth, 2500)
    assert.equal(srv.app.mpm.stats().busy, 0)
    assert.equal(srv.app.mpm.stats().crashed, 0)
  })

  test('mpm.run() with a result too deep to clone rejects at once, naming the problem', async () => {
    const err = await withDeadline(srv.app.mpm.run(corpus, { query: { depth: 3000 } }, { export: 'deep' }).catch((e) => e), 5000, 'run()')
    assert.ok(err instanceof Error, 'run() rejects')
    assert.equal(err.code, 'FST_MPM_NOT_CLONEABLE')
    assert.match(err.message, /nested deeper than 1000 levels/)
    assert.equal(srv.app.mpm.stats().busy, 0)
  })

  test('mpm.run() returning a Proxy rejects with FST_MPM_NOT_CLONEABLE; the thread is not lost', async () => {
    const err = await srv.app.mpm.run(fixture('run.js'), undefined, { export: 'proxy' }).catch((e) => e)
    assert.equal(err.code, 'FST_MPM_NOT_CLONEABLE')
    assert.match(err.message, /a Proxy at result/)
    assert.equal(srv.app.mpm.stats().crashed, 0)
    assert.equal(srv.app.mpm.stats().threadExits, 0)
  })

  test('a valid JSON body nested 5,000 deep (~30 KB) is served as inline, not as a crash', async () => {
    const body = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000)
    const res = await srv.request('/body-depth', { method: 'POST', body, headers: { 'content-type': 'application/json' } })
    assert.equal(res.status, 200)
    assert.deepEqual(res.json(), { depth: 5000 })
    assert.equal(srv.app.mpm.stats().crashed, 0)
    assert.equal(srv.app.mpm.stats().threadExits, 0)
  })

  test('a storm of process.exit(): every request answered, no slot leaked', async () => {
    const count = 240
    const statuses = await withDeadline(runConcurrently(count, 8, async () => (await srv.request('/exit')).status), 50_000, 'the storm')
    assert.equal(statuses.length, count)
    assert.deepEqual([...new Set(statuses)], [500], 'every request answered with the thread-exit 500')
    await waitFor(() => srv.app.mpm.stats().busy === 0, { what: 'busy back to 0', timeoutMs: 2000 })
    const stats = srv.app.mpm.stats()
    assert.equal(stats.queued, 0)
    assert.ok(stats.threadExits >= count, `threadExits ${stats.threadExits}`)
    // And the pool is whole: both threads serve.
    const after = await Promise.all(Array.from({ length: 4 }, () => srv.request('/whoami')))
    for (const res of after) assert.equal(res.status, 200)
  })
})

describe('queueTimeout bounds the wait for a thread', { timeout: 30_000 }, () => {
  test('tasks that wait past it get 503 + Retry-After, never run, and are counted apart', async (t) => {
    const srv = await startApp({ threads: 1, taskTimeout: 5000, queueTimeout: 200, retryAfter: 3, status: true, metrics: true }, (app) => {
      app.get('/sleep', offload(faults, { export: 'sleep' }))
    })
    t.after(() => srv.close())
    const started = performance.now()
    const results = await Promise.all(Array.from({ length: 6 }, async () => {
      const res = await srv.request('/sleep?ms=800')
      return { res, at: performance.now() - started }
    }))
    const ok = results.filter((r) => r.res.status === 200)
    const waited = results.filter((r) => r.res.status === 503)
    assert.equal(ok.length, 1, 'only the task that got the thread ran')
    assert.equal(waited.length, 5)
    for (const { res, at } of waited) {
      assert.equal(res.json().code, 'FST_MPM_QUEUE_TIMEOUT')
      assert.equal(res.headers['retry-after'], '3')
      assert.ok(at < 700, `answered after ${Math.round(at)} ms: before the running task finished, not after`)
    }
    const stats = srv.app.mpm.stats()
    assert.equal(stats.queueTimedOut, 5)
    assert.equal(stats.completed, 1)
    assert.equal(stats.timedOut, 0)
    assert.equal(stats.queued, 0)
    // The operator view counts them apart from task timeouts and full-queue rejections.
    assert.equal((await srv.request('/server-status?json')).json().totals.queueTimedOut, 5)
    assert.match((await srv.request('/server-status?auto')).text, /^TasksQueueTimedOut: 5$/m)
    assert.match((await srv.request('/metrics')).text, /^fastify_mpm_tasks_total\{[^}]*result="queue-timeout"[^}]*\} 5$/m)
  })

  test('defaults to taskTimeout; 0 turns it off', async (t) => {
    const srv = await startApp({ threads: 1, taskTimeout: 1234 }, () => {}, { listen: false })
    t.after(() => srv.close())
    assert.equal(srv.app.mpm.options.queueTimeout, 1234)
    const off = await startApp({ threads: 1, queueTimeout: 0 }, () => {}, { listen: false })
    t.after(() => off.close())
    assert.equal(off.app.mpm.options.queueTimeout, 0)
  })
})
