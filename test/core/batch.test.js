// Short queued tasks handed to a thread together (lib/core/batch.ts): each still runs once, alone,
// in order, answers its own request and logs to it; a batch cut short by a timeout, an exit or a
// retirement runs the members that never started elsewhere, exactly once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { offload } from 'fastify-mpm'
import { fixture, startApp } from '../helpers/app.js'
import { tempDir, waitFor } from '../helpers/util.js'

const faults = fixture('faults.js')
const batch = fixture('batch.js')
const q = encodeURIComponent

/** An app with one thread, a gated route to hold it, and the short `mark` route (GET and POST). */
async function oneThreadApp (t, options = {}, routes = () => {}) {
  const dir = tempDir()
  t.after(dir.remove)
  const srv = await startApp({ threads: 1, taskTimeout: 10_000, ...options }, (app) => {
    app.get('/gated', offload(faults, { export: 'gated' }))
    app.route({ method: ['GET', 'POST'], url: '/mark', handler: offload(batch, { export: 'mark' }) })
    app.get('/quick', offload(batch, { export: 'mark', timeout: 500 }))
    routes(app)
  })
  t.after(() => srv.close())
  return { dir, srv, mpm: srv.app.mpm, mark: dir.file('ran.txt') }
}

/** Warms `route` up (the pool learns it is short), then holds the thread; `release()` lets it go. */
async function holdThread ({ dir, srv, mpm }, route = '/mark') {
  for (let i = 0; i < 8; i++) assert.equal((await srv.request(`${route}?tag=warm`)).status, 200)
  const gate = dir.gate()
  const held = srv.request(`/gated?gate=${q(gate.path)}`)
  await waitFor(() => mpm.stats().busy === 1, { what: 'the thread held' })
  return { release: async () => { gate.open(); assert.equal((await held).status, 200) } }
}

/** How often each tag ran, as the handlers recorded it. */
function runsOf (dir) {
  const runs = {}
  for (const tag of dir.read('ran.txt').trim().split('\n')) runs[tag] = (runs[tag] ?? 0) + 1
  return runs
}

/**
 * `tags.length` short requests queued behind the held thread; releasing it lets them go, as one
 * batch. Returns each tag's response, how often each tag ran, and how many tasks went in batches.
 */
async function queuedBehindGate (t, options, tags, extra = '', route = '/mark') {
  const app = await oneThreadApp(t, options)
  const { srv, mpm, mark } = app
  const thread = await holdThread(app, route)
  const batchedBefore = mpm.stats().batched
  const answers = tags.map((tag) => srv.request(`${route}?tag=${tag}&mark=${q(mark)}${extra}`))
  await waitFor(() => mpm.stats().queued === tags.length, { what: `${tags.length} queued` })
  await thread.release()
  const responses = {}
  for (const [i, tag] of tags.entries()) responses[tag] = await answers[i]
  return { srv, mpm, responses, runs: runsOf(app.dir), batched: mpm.stats().batched - batchedBefore }
}

const TAGS = ['a', 'b', 'c', 'd', 'e', 'f']

test('queued short tasks go to a thread together: each runs once, in order, and answers its own request', { timeout: 30_000 }, async (t) => {
  const { srv, responses, runs, batched } = await queuedBehindGate(t, {}, TAGS)
  // Normally all six in one batch; a slow warm-up run (a GC pause) can make the pool split them.
  assert.ok(batched >= 4, `batched ${batched}`)
  const seqs = []
  for (const tag of TAGS) {
    const res = responses[tag]
    assert.equal(res.status, 200)
    assert.equal(res.json().tag, tag)
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8')
    seqs.push(res.json().seq)
    assert.equal(runs[tag], 1, `${tag} ran once`)
  }
  assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), 'run in the order they queued')
  // Each member's log line reached its own request's logger.
  for (const tag of TAGS) {
    const line = srv.logs.find((l) => l.msg === 'batched member ran' && l.tag === tag)
    assert.ok(line, `log line of ${tag}`)
    assert.equal(line.reqId, responses[tag].json().id)
  }
})

test('a member that throws fails alone; the others answer as usual', { timeout: 30_000 }, async (t) => {
  const { responses, runs, batched } = await queuedBehindGate(t, {}, TAGS, '&fail=c')
  assert.ok(batched >= 4, `batched ${batched}`)
  assert.equal(responses.c.status, 418, responses.c.text)
  assert.equal(responses.c.json().message, 'member c failed')
  for (const tag of TAGS.filter((x) => x !== 'c')) assert.equal(responses[tag].status, 200, `${tag}: ${responses[tag].text}`)
  for (const tag of TAGS) assert.equal(runs[tag], 1, `${tag} ran ${runs[tag]} times`)
})

for (const { title, how, culprit, route, status, code, counter } of [
  { title: 'times out: it alone gets the timeout', how: 'spin', culprit: 'c', route: '/quick', status: 503, code: 'FST_MPM_TASK_TIMEOUT', counter: 'timedOut' },
  { title: 'exits its thread: it alone fails', how: 'exit', culprit: 'd', route: '/mark', status: 500, code: 'FST_MPM_THREAD_EXITED', counter: 'threadExits' }
]) {
  test(`a member that ${title}; the members after it run once, elsewhere`, { timeout: 30_000 }, async (t) => {
    const { mpm, responses, runs, batched } = await queuedBehindGate(t, {}, TAGS, `&fail=${culprit}&how=${how}`, route)
    assert.ok(batched >= 4, `batched ${batched}`)
    assert.equal(responses[culprit].status, status)
    assert.equal(responses[culprit].json().code, code)
    for (const tag of TAGS.filter((x) => x !== culprit)) {
      assert.equal(responses[tag].status, 200, `${tag}: ${responses[tag].text}`)
      assert.equal(runs[tag], 1, `${tag} ran once`)
    }
    assert.equal(runs[culprit], 1)
    assert.equal(mpm.stats()[counter], 1)
    const [before, after] = [TAGS[TAGS.indexOf(culprit) - 1], TAGS[TAGS.indexOf(culprit) + 1]]
    assert.notEqual(responses[before].json().threadId, responses[after].json().threadId, `${after} ran on the replacement thread`)
  })
}

test('a thread that retires mid-batch (maxTasksPerThread): the rest run once on its successor', { timeout: 30_000 }, async (t) => {
  // The warm-ups and the gated task count too: the thread retires after the batch's second member.
  const { mpm, responses, runs, batched } = await queuedBehindGate(t, { maxTasksPerThread: 11 }, TAGS)
  // The members the retiring thread left may go to its successor in a batch of their own.
  assert.ok(batched >= 4, `batched ${batched}`)
  for (const tag of TAGS) {
    assert.equal(responses[tag].status, 200, `${tag}: ${responses[tag].text}`)
    assert.equal(runs[tag], 1, `${tag} ran once`)
  }
  assert.equal(responses.a.json().threadId, responses.b.json().threadId)
  assert.notEqual(responses.b.json().threadId, responses.c.json().threadId, 'c ran after the retirement')
  assert.ok(mpm.stats().recycled >= 1)
})

test('a queued request whose client left is dropped, not batched', { timeout: 30_000 }, async (t) => {
  const app = await oneThreadApp(t)
  const { srv, mpm, mark } = app
  const thread = await holdThread(app)
  const kept = srv.request(`/mark?tag=kept&mark=${q(mark)}`)
  const leaver = connect(new URL(srv.url).port, '127.0.0.1')
  await new Promise((resolve) => leaver.once('connect', resolve))
  leaver.write(`GET /mark?tag=left&mark=${q(mark)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
  await waitFor(() => mpm.stats().queued === 2, { what: 'two queued' })
  leaver.destroy()
  await waitFor(() => mpm.stats().dropped === 1, { what: 'the left request dropped' })
  await thread.release()
  assert.equal((await kept).status, 200)
  assert.deepEqual(runsOf(app.dir), { kept: 1 })
})

test('a member whose request cannot be copied fails alone; the batch is handed over again one by one', { timeout: 30_000 }, async (t) => {
  // A body parser that yields a function: structured clone refuses the whole batch message.
  const app = await oneThreadApp(t, {}, (fastify) => {
    fastify.addContentTypeParser('application/x-fn', (req, body, done) => done(null, () => 1))
  })
  const { srv, mpm, mark } = app
  const thread = await holdThread(app)
  const batchedBefore = mpm.stats().batched
  const answers = TAGS.map((tag) => srv.request(`/mark?tag=${tag}&mark=${q(mark)}`,
    tag === 'c' ? { method: 'POST', body: 'x', headers: { 'content-type': 'application/x-fn' } } : {}))
  await waitFor(() => mpm.stats().queued === TAGS.length, { what: `${TAGS.length} queued` })
  await thread.release()
  const responses = await Promise.all(answers)
  assert.ok(mpm.stats().batched - batchedBefore >= 4, 'they were first handed over in batches')
  const runs = runsOf(app.dir)
  for (const [i, tag] of TAGS.entries()) {
    if (tag === 'c') {
      assert.equal(responses[i].status, 500)
      assert.equal(responses[i].json().code, 'FST_MPM_NOT_CLONEABLE')
      assert.equal(runs.c, undefined, 'c never ran')
    } else {
      assert.equal(responses[i].status, 200, `${tag}: ${responses[i].text}`)
      assert.equal(runs[tag], 1, `${tag} ran once`)
    }
  }
  assert.equal(mpm.stats().crashed, 0)
})

test('close() while a batch runs: answered members keep their answers, the rest get 503 FST_MPM_CLOSING and never start', { timeout: 30_000 }, async (t) => {
  const app = await oneThreadApp(t, { closeTimeout: 300 })
  const { srv, mpm, mark, dir } = app
  const thread = await holdThread(app)
  const never = dir.gate('never')
  const answers = TAGS.map((tag) => srv.request(`/mark?tag=${tag}&mark=${q(mark)}&hold=c&gate=${q(never.path)}`))
  await waitFor(() => mpm.stats().queued === TAGS.length, { what: `${TAGS.length} queued` })
  await thread.release()
  await waitFor(() => (dir.read('ran.txt') ?? '').includes('c\n'), { what: 'c running' })
  await srv.app.close()
  const responses = await Promise.all(answers)
  const runs = runsOf(dir)
  assert.equal(responses[0].status, 200)
  assert.equal(responses[1].status, 200)
  for (const i of [2, 3, 4, 5]) {
    assert.equal(responses[i].status, 503, `${TAGS[i]}: ${responses[i].text}`)
    assert.equal(responses[i].json().code, 'FST_MPM_CLOSING')
  }
  assert.equal(runs.c, 1)
  for (const tag of ['d', 'e', 'f']) assert.equal(runs[tag], undefined, `${tag} never started`)
})
