// Threads that die: process.exit(), an uncaught exception in a timer, out of memory.
// The request fails promptly with a 5xx, the thread is replaced, everyone else is unaffected.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { offload } from 'fastify-mpm'
import { fixture, startApp } from '../helpers/app.js'
import { waitFor } from '../helpers/util.js'

const faults = fixture('faults.js')
// Far above anything a death should take to notice: a hang would run into it.
const TASK_TIMEOUT = 20_000

async function deathScenario (t, { path, code, message, options = {} }) {
  const srv = await startApp({ threads: 2, taskTimeout: TASK_TIMEOUT, ...options }, (app) => {
    app.get('/exit', offload(faults, { export: 'exit' }))
    app.get('/timer-throws', offload(faults, { export: 'timerThrows' }))
    app.get('/oom', offload(faults, { export: 'oom' }))
    app.get('/sleep', offload(faults, { export: 'sleep' }))
    app.get('/whoami', offload(faults, { export: 'whoami' }))
  })
  t.after(srv.close)
  const { mpm } = srv.app

  const started = performance.now()
  // A concurrent request on the other thread, in flight while its neighbour dies.
  const [dying, neighbour] = await Promise.all([srv.request(path), srv.request('/sleep?ms=150')])
  const elapsed = performance.now() - started

  assert.ok(dying.status >= 500 && dying.status < 600, `expected a 5xx, got ${dying.status} ${dying.text}`)
  const body = dying.json()
  assert.equal(body.code, code)
  assert.match(body.message, message)
  assert.ok(elapsed < TASK_TIMEOUT / 2, `the failure must be prompt, not a timeout (took ${Math.round(elapsed)} ms)`)
  assert.equal(mpm.stats().timedOut, 0)
  assert.equal(neighbour.status, 200)
  assert.equal(neighbour.json().slept, 150)

  // Logged as a 5xx naming the route.
  const line = await srv.logs.waitFor((l) => l.level >= 50 && l.err?.code === code)
  assert.equal(line.offload.route, `GET ${path}`)

  // The pool is whole again and keeps serving on both threads.
  await waitFor(() => mpm.stats().threads === 2, { what: 'the dead thread replaced' })
  const after = await Promise.all(Array.from({ length: 6 }, () => srv.request('/whoami')))
  for (const res of after) assert.equal(res.status, 200)
  assert.ok(mpm.stats().crashed >= 1)
  return { srv, body }
}

test('process.exit() in a handler → prompt 500 FST_MPM_THREAD_EXITED', { timeout: 30_000 }, async (t) => {
  const { srv } = await deathScenario(t, { path: '/exit', code: 'FST_MPM_THREAD_EXITED', message: /exit code 3/ })
  assert.ok(srv.app.mpm.stats().threadExits >= 1)
  // and again: the replacement thread is as good as the first
  const again = await srv.request('/exit')
  assert.equal(again.status, 500)
  assert.equal(again.json().code, 'FST_MPM_THREAD_EXITED')
  assert.equal((await srv.request('/whoami')).status, 200)
})

test('an uncaught exception in a timer → prompt 500 FST_MPM_THREAD_CRASHED', { timeout: 30_000 }, async (t) => {
  await deathScenario(t, { path: '/timer-throws', code: 'FST_MPM_THREAD_CRASHED', message: /boom in a timer/ })
})

test('out of memory under resourceLimits → prompt 500 FST_MPM_THREAD_CRASHED', { timeout: 30_000 }, async (t) => {
  await deathScenario(t, {
    path: '/oom',
    code: 'FST_MPM_THREAD_CRASHED',
    message: /memory/i,
    options: { resourceLimits: { maxOldGenerationSizeMb: 24, maxYoungGenerationSizeMb: 4 } }
  })
})

test('a thread that dies while idle is replaced; later requests succeed', { timeout: 30_000 }, async (t) => {
  const srv = await startApp({ threads: 1, taskTimeout: TASK_TIMEOUT }, (app) => {
    app.get('/exit-after', offload(faults, { export: 'exitAfterReturn' }))
    app.get('/whoami', offload(faults, { export: 'whoami' }))
  })
  t.after(srv.close)
  const { mpm } = srv.app
  const res = await srv.request('/exit-after')
  assert.equal(res.status, 200, 'the answer came before the thread died')
  const doomed = res.json().threadId
  await waitFor(() => mpm.stats().threadExits >= 1, { what: 'the idle thread exit noticed' })
  await srv.logs.waitFor((l) => l.level >= 50 && /idle thread died/.test(l.msg))
  const after = await Promise.all(Array.from({ length: 4 }, () => srv.request('/whoami')))
  for (const r of after) {
    assert.equal(r.status, 200)
    assert.notEqual(r.json().threadId, doomed)
  }
})
