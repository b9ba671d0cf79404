// maxThreadMemory: a thread whose V8 heap passes the limit after a task is replaced; its answer
// is sent first and no request fails, even with others in flight. Shown in ?auto, ?json and metrics.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { test } from 'node:test'
import { Worker } from 'node:worker_threads'
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import mpm, { offload } from 'fastify-mpm'
import { fixture, startApp } from '../helpers/app.js'
import { runConcurrently } from '../helpers/util.js'

test('a leaking handler: its thread is recycled past maxThreadMemory, with zero failed requests', { timeout: 60_000 }, async (t) => {
  const srv = await startApp({ threads: 2, maxThreadMemory: 48, status: true, metrics: true }, (app) => {
    app.get('/leak', offload(fixture('leak.js')))
  })
  t.after(() => srv.close())
  // 40 requests of 8 MB, 4 at a time over 2 threads: each thread passes 48 MB every ~6 tasks.
  const results = await runConcurrently(40, 4, async () => await srv.request('/leak?mb=8'))
  const failed = results.filter((r) => r.status !== 200)
  assert.deepEqual(failed.map((r) => `${r.status} ${r.text}`), [], 'no request failed')
  const bodies = results.map((r) => r.json())
  assert.ok(new Set(bodies.map((b) => b.threadId)).size > 2, 'new threads took over from the recycled ones')
  assert.ok(Math.max(...bodies.map((b) => b.heldMb)) <= 48 + 8 * 2, 'no thread held much more than the limit')

  const status = (await srv.request('/server-status?json')).json()
  assert.ok(status.totals.recycledMemory >= 3, `recycledMemory ${status.totals.recycledMemory}`)
  assert.equal(status.totals.recycled, 0, 'maxTasksPerThread recycles are counted apart')
  assert.equal(status.totals.crashed, 0)
  const auto = (await srv.request('/server-status?auto')).text
  assert.match(auto, new RegExp(`^ThreadsRecycledMemory: ${status.totals.recycledMemory}$`, 'm'))
  const metrics = (await srv.request('/metrics')).text
  assert.match(metrics, /^fastify_mpm_thread_restarts_total\{reason="memory",pool="default"\} [1-9]\d*$/m)
  assert.ok(srv.logs.lines.some((l) => l.msg === 'fastify-mpm: recycling a thread whose heap passed maxThreadMemory' && l.heapUsed > 48 * 1048576))
})

test('below the limit nothing is recycled; bad values name the option', { timeout: 30_000 }, async (t) => {
  const srv = await startApp({ threads: 1, maxThreadMemory: 512, status: true }, (app) => {
    app.get('/leak', offload(fixture('leak.js')))
  })
  t.after(() => srv.close())
  const ids = new Set()
  for (let i = 0; i < 5; i++) ids.add((await srv.request('/leak?mb=1')).json().threadId)
  assert.equal(ids.size, 1)
  assert.equal((await srv.request('/server-status?json')).json().totals.recycledMemory, 0)

  for (const bad of [-1, 1.5, '64']) {
    const app = Fastify()
    const err = await app.register(mpm, { threads: 1, maxThreadMemory: bad }).ready().then(() => null, (e) => e)
    await app.close().catch(() => {})
    assert.equal(err?.code, 'FST_MPM_INVALID_OPTION')
    assert.match(err.message, /maxThreadMemory/)
  }
})

/** Whether a worker thread accepts this process's execArgv (then the pool's threads get the preload). */
function threadsTakeOurFlags () {
  try {
    new Worker('', { eval: true, execArgv: [...process.execArgv] }).terminate()
    return true
  } catch (err) {
    if (err.code === 'ERR_WORKER_INVALID_EXEC_ARGV') return false
    throw err
  }
}

test('handlers see the real process.memoryUsage (tinypool\'s entry is lent a constant one)', { timeout: 30_000 }, async (t) => {
  const srv = await startApp({ threads: 1 }, (app) => {
    app.get('/usage', offload(fixture('memory-usage.js')))
  })
  t.after(() => srv.close())
  for (let i = 0; i < 2; i++) {
    const res = await srv.request('/usage')
    assert.equal(res.status, 200)
    const usage = res.json()
    assert.equal(usage.name, 'memoryUsage')
    assert.ok(usage.rss > 1048576, `rss ${usage.rss}`)
    assert.ok(usage.heapUsed > 0, `heapUsed ${usage.heapUsed}`)
    assert.ok(usage.rssOnly > 1048576, `rss() ${usage.rssOnly}`)
    // The preload ran (so tinypool's per-task call is spared) and handed back this very function;
    // unless this process runs with flags a thread refuses (Node 24's test runner passes dozens),
    // where the threads start without it.
    assert.equal(usage.preloaded, threadsTakeOurFlags())
  }
})

test('a process run with flags a thread refuses (--stack-size): threads start without the preload and work', { timeout: 30_000 }, async () => {
  const script = new URL('../fixtures/preload-fallback.js', import.meta.url)
  const { stdout } = await promisify(execFile)(process.execPath, ['--stack-size=2000', script.pathname, fixture('memory-usage.js').href])
  const { status, body } = JSON.parse(stdout)
  assert.equal(status, 200)
  assert.equal(body.preloaded, false)
  assert.ok(body.rss > 1048576, `rss ${body.rss}`)
})
