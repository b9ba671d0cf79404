// Process-isolated pools (`isolation: 'process'`): handlers run in child processes, so one that
// kills its process (a segfaulting native addon, abort()) costs only its own request a 500
// FST_MPM_PROCESS_CRASHED; the pool starts a replacement, and the server, its inline routes and
// the pool's other requests never notice. Timeouts, recycling, log forwarding and the answers
// themselves behave as in a thread pool. Real child processes, real HTTP.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { offload } from 'fastify-mpm'
import { fixture, startApp } from '../helpers/app.js'
import { waitFor } from '../helpers/util.js'

const faults = fixture('process-faults.js')
const TASK_TIMEOUT = 20_000

function alive (pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function crashApp (t, options = {}) {
  const srv = await startApp({ threads: 2, isolation: 'process', taskTimeout: TASK_TIMEOUT, ...options }, (app) => {
    for (const name of ['segv', 'abort', 'exit', 'pid']) app.get(`/${name}`, offload(faults, { export: name }))
    app.get('/inline', async (req) => ({ inline: true, id: req.id }))
  })
  t.after(() => srv.close())
  return srv
}

for (const [name, signal, message] of [['segv', 'SIGSEGV', /killed by SIGSEGV/], ['abort', 'SIGABRT', /killed by SIGABRT/], ['exit', 'exit', /exit code 3/]]) {
  test(`a handler that ${name === 'exit' ? 'calls process.exit()' : `dies of ${signal}`}: one 500 FST_MPM_PROCESS_CRASHED, the pool replaced, 100 concurrent requests then all 200`, { timeout: 60_000 }, async (t) => {
    const srv = await crashApp(t)
    const { mpm } = srv.app
    // Both children up and known, so the replacement is seen to be a new process.
    const before = new Set((await Promise.all(Array.from({ length: 4 }, () => srv.request('/pid')))).map((r) => r.json().pid))

    const started = performance.now()
    const [dying, neighbour, inline] = await Promise.all([srv.request(`/${name}`), srv.request('/pid'), srv.request('/inline')])
    assert.equal(dying.status, 500, dying.text)
    const body = dying.json()
    assert.equal(body.code, 'FST_MPM_PROCESS_CRASHED')
    assert.match(body.message, message)
    assert.ok(performance.now() - started < TASK_TIMEOUT / 2, 'the failure is prompt, not a timeout')
    assert.equal(neighbour.status, 200)
    assert.equal(inline.status, 200)

    // Logged as a 5xx naming the route; a line the handler wrote just before dying reached its request.
    const line = await srv.logs.waitFor((l) => l.level >= 50 && l.err?.code === 'FST_MPM_PROCESS_CRASHED')
    assert.equal(line.offload.route, `GET /${name}`)
    const last = await srv.logs.waitFor((l) => l.dying !== undefined)
    assert.equal(last.reqId, last.dying)
    assert.equal(last.reqId, line.reqId)
    assert.ok(before.has(last.pid) || before.size < 2, 'a child that served before')
    await waitFor(() => !alive(last.pid), { what: `the dead child ${last.pid} gone` })

    await waitFor(() => mpm.stats().threads === 2, { what: 'the dead child replaced' })
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => srv.request(i % 2 === 0 ? '/pid' : '/inline')))
    for (const res of results) assert.equal(res.status, 200, res.text)
    const pids = new Set(results.filter((r) => r.json().pid !== undefined).map((r) => r.json().pid))
    assert.ok(!pids.has(last.pid))
    assert.ok(!pids.has(process.pid))
    // Both slots serve again: a fresh child among them once it is up.
    await waitFor(async () => {
      const seen = new Set((await Promise.all(Array.from({ length: 6 }, () => srv.request('/pid')))).map((r) => r.json().pid))
      return seen.size === 2 && [...seen].some((pid) => !before.has(pid))
    }, { what: 'a replacement child serving beside the survivor' })

    const stats = mpm.stats()
    assert.equal(stats.crashed, 1)
    assert.equal(stats.threadExits, 1)
    assert.equal(stats.timedOut, 0)
    assert.equal(stats.busy, 0)
  })
}

test('a stuck handler: its child is killed, the request gets 503 FST_MPM_TASK_TIMEOUT, the next one is fine', { timeout: 30_000 }, async (t) => {
  const srv = await startApp({ threads: 1, isolation: 'process', taskTimeout: 400 }, (app) => {
    app.get('/spin', offload(faults, { export: 'spin' }))
    app.get('/pid', offload(faults, { export: 'pid' }))
  })
  t.after(() => srv.close())
  await srv.request('/pid')
  const started = performance.now()
  const res = await srv.request('/spin')
  const took = performance.now() - started
  assert.equal(res.status, 503)
  assert.equal(res.json().code, 'FST_MPM_TASK_TIMEOUT')
  assert.ok(took >= 380 && took < 5000, `answered after ${Math.round(took)} ms`)
  const spinning = (await srv.logs.waitFor((l) => l.spinning !== undefined)).spinning
  await waitFor(() => !alive(spinning), { what: `the stuck child ${spinning} killed` })
  const next = await srv.request('/pid')
  assert.equal(next.status, 200)
  assert.notEqual(next.json().pid, spinning)
  const stats = srv.app.mpm.stats()
  assert.equal(stats.timedOut, 1)
  assert.equal(stats.crashed, 0)
  assert.equal(stats.threadExits, 0)
})

test("a child's boot and a slow module import do not count against taskTimeout", { timeout: 30_000 }, async (t) => {
  process.env.FASTIFY_MPM_TEST_IMPORT_MS = '600'
  t.after(() => { delete process.env.FASTIFY_MPM_TEST_IMPORT_MS })
  // One task per child: every request after the first meets a fresh child that boots and imports the module (600 ms).
  const srv = await startApp({ threads: 1, isolation: 'process', taskTimeout: 300, maxTasksPerThread: 1 }, (app) => {
    app.get('/quick', offload(fixture('slow-import.js'), { export: 'quick' }))
  })
  t.after(() => srv.close())
  for (let i = 0; i < 3; i++) {
    const started = performance.now()
    const res = await srv.request('/quick')
    assert.equal(res.status, 200, res.text)
    if (i > 0) assert.ok(performance.now() - started > 300, 'the request waited for a fresh child and its import')
  }
  assert.equal(srv.app.mpm.stats().timedOut, 0)
  assert.equal(srv.app.mpm.stats().recycled, 3)
})

test('maxTasksPerThread recycles a child after N tasks; maxThreadMemory after its heap passes the limit', { timeout: 30_000 }, async (t) => {
  const srv = await startApp({ threads: 1, isolation: 'process', maxTasksPerThread: 3 }, (app) => {
    app.get('/pid', offload(faults, { export: 'pid' }))
  })
  t.after(() => srv.close())
  const pids = []
  for (let i = 0; i < 7; i++) {
    const res = await srv.request('/pid')
    assert.equal(res.status, 200)
    pids.push(res.json().pid)
  }
  assert.equal(new Set(pids.slice(0, 3)).size, 1, `pids ${pids}`)
  assert.equal(new Set(pids.slice(3, 6)).size, 1, `pids ${pids}`)
  assert.notEqual(pids[0], pids[3])
  assert.notEqual(pids[3], pids[6])
  await waitFor(() => !alive(pids[0]), { what: 'the retired child gone' })
  assert.equal(srv.app.mpm.stats().recycled, 2)
  assert.equal(srv.app.mpm.stats().threadExits, 0)

  const mem = await startApp({ threads: 1, isolation: 'process', maxThreadMemory: 24 }, (app) => {
    app.get('/hog', offload(faults, { export: 'hog' }))
  })
  t.after(() => mem.close())
  const first = (await mem.request('/hog?mb=1')).json().pid
  let pid = first
  for (let i = 0; i < 12 && pid === first; i++) pid = (await mem.request('/hog?mb=8')).json().pid
  assert.notEqual(pid, first, 'the child was recycled once its heap passed 24 MB')
  assert.ok(mem.app.mpm.stats().recycledMemory >= 1)
  assert.ok(await mem.logs.waitFor((l) => /heap passed maxThreadMemory/.test(l.msg ?? '')))
})

test("log lines reach the request's logger with its reqId, also those written after it answered", { timeout: 30_000 }, async (t) => {
  const srv = await startApp({ threads: 2, isolation: 'process' }, (app) => {
    app.get('/work', offload(faults, { export: 'work' }))
  })
  t.after(() => srv.close())
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => srv.request(`/work?t=tok${i}&late=1`)))
  for (const [i, res] of answers.entries()) {
    assert.equal(res.status, 200)
    const { t: token, id } = res.json()
    assert.equal(token, `tok${i}`)
    for (const msg of ['ran', 'late microtask', 'late timer']) {
      const line = await srv.logs.waitFor((l) => l.token === token && l.msg === msg)
      assert.equal(line.reqId, id, `${token} "${msg}"`)
    }
  }
})

test('an offloaded handler answers the same inline, in a thread and in a process', { timeout: 60_000 }, async (t) => {
  const modes = { inline: { threads: 0 }, thread: { threads: 1 }, process: { threads: 1, isolation: 'process' } }
  const seen = {}
  for (const [mode, options] of Object.entries(modes)) {
    const srv = await startApp(options, (app) => {
      app.all('/answer', offload(faults, { export: 'answer' }))
    })
    t.after(() => srv.close())
    const out = []
    for (const kind of ['json', 'buffer', 'throw', 'text']) {
      const res = await srv.request(`/answer?kind=${kind}`)
      out.push({ kind, status: res.status, type: res.headers['content-type'], xkind: res.headers['x-kind'], xset: res.headers['x-set'], body: res.body.toString('base64') })
    }
    const raw = Buffer.from([0, 255, 1, 128])
    const echo = await srv.request('/answer?kind=echo', { method: 'POST', body: raw, headers: { 'content-type': 'application/octet-stream' } })
    out.push({ kind: 'echo', status: echo.status, type: echo.headers['content-type'], body: echo.body.toString('base64') })
    const json = await srv.request('/answer?kind=json', { json: { deep: { a: [1, 2, { b: 'c' }] }, big: 'x'.repeat(70_000) } })
    out.push({ kind: 'json-body', status: json.status, body: json.body.toString('base64') })
    seen[mode] = out
  }
  assert.deepEqual(seen.thread, seen.inline)
  assert.deepEqual(seen.process, seen.inline)
  assert.equal(seen.process[1].body, Buffer.from([0, 1, 2, 253, 254, 255]).toString('base64'))
  assert.equal(seen.process[2].status, 418)
})

test('what cannot reach a child fails its own call, not the server; a missing export fails ready()', { timeout: 30_000 }, async (t) => {
  const srv = await startApp({ threads: 1, isolation: 'process' }, (app) => {
    app.get('/pid', offload(faults, { export: 'pid' }))
  })
  t.after(() => srv.close())
  // Shared memory crosses a MessagePort (a thread shares it) but not to another process.
  await assert.rejects(srv.app.mpm.run(faults, new SharedArrayBuffer(8), { export: 'kindOf' }), (err) => err.code === 'FST_MPM_NOT_CLONEABLE' && /request/.test(err.message))
  assert.equal(await srv.app.mpm.run(faults, new Map([[1, 2]]), { export: 'kindOf' }), '[object Map]')
  assert.equal((await srv.request('/pid')).status, 200)
  assert.equal(srv.app.mpm.stats().crashed, 0)
  assert.equal(srv.app.mpm.stats().failed, 1)
  assert.equal(srv.app.mpm.stats().threadExits, 0)

  await assert.rejects(startApp({ threads: 1, isolation: 'process' }, (app) => {
    app.get('/nope', offload(faults, { export: 'noSuchExport' }))
  }), (err) => err.code === 'FST_MPM_HANDLER_EXPORT')
})

test('a child that dies while idle is counted and logged once, and replaced; no request fails', { timeout: 30_000 }, async (t) => {
  const srv = await startApp({ threads: 1, isolation: 'process' }, (app) => {
    app.get('/exit-after', offload(fixture('faults.js'), { export: 'exitAfterReturn' }))
    app.get('/pid', offload(faults, { export: 'pid' }))
  })
  t.after(() => srv.close())
  assert.equal((await srv.request('/exit-after')).status, 200)
  const line = await srv.logs.waitFor((l) => l.level >= 50 && l.err?.code === 'FST_MPM_PROCESS_CRASHED')
  assert.match(line.err.message, /exit code 5/)
  assert.equal((await srv.request('/pid')).status, 200)
  const stats = srv.app.mpm.stats()
  assert.equal(stats.threadExits, 1)
  assert.equal(stats.crashed, 0)
  assert.equal(srv.logs.filter((l) => l.err?.code === 'FST_MPM_PROCESS_CRASHED').length, 1)
})
