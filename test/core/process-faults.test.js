// dispatch-faults.test.js for a process-isolated pool (`isolation: 'process'`): the same seeded,
// randomized mix of options and requests, where a request may also kill its whole process
// (SIGSEGV, abort(), exit()). On every request: answered once, with its own answer (a death is
// its own 500 FST_MPM_PROCESS_CRASHED, no one else's), within its deadline, its log lines under
// its own reqId; at rest, nothing busy or queued and counters that add up to what the clients
// saw. Fewer requests than the thread test: a child takes ~50-100 ms to start.
//
// FASTIFY_MPM_PROCESS_FAULT_SEEDS=1,2,3 replays given seeds; every failure names its seed and options.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { offload } from 'fastify-mpm'
import { fixture, startApp } from '../helpers/app.js'
import { tempDir, waitFor, withDeadline } from '../helpers/util.js'
import { random, seeds } from '../helpers/random.js'

const dispatch = fixture('process-faults.js')
const q = encodeURIComponent
const ROUNDS = 2
const REQUESTS = 120

const KINDS = { quick: 55, late: 10, slow: 8, throw: 6, exit: 2, segv: 2, abort: 2, spin: 2, leave: 10 }
const QUEUE_REFUSALS = new Set(['FST_MPM_QUEUE_FULL', 'FST_MPM_QUEUE_TIMEOUT'])

/** What each kind of request may answer: [status, code] pairs (besides a refusal by a full or slow queue). */
const ALLOWED = {
  quick: [[200]],
  late: [[200]],
  slow: [[200]],
  throw: [[418]],
  exit: [[500, 'FST_MPM_PROCESS_CRASHED', /exit code 7/]],
  segv: [[500, 'FST_MPM_PROCESS_CRASHED', /SIGSEGV/]],
  abort: [[500, 'FST_MPM_PROCESS_CRASHED', /SIGABRT/]],
  spin: [[503, 'FST_MPM_TASK_TIMEOUT']]
}

for (const seed of seeds('FASTIFY_MPM_PROCESS_FAULT_SEEDS', ROUNDS)) {
  test(`a process pool under random faults, seed ${seed}`, { timeout: 90_000 }, async (t) => {
    const rng = random(seed)
    const options = {
      threads: rng.int(1, 3),
      isolation: 'process',
      maxTasksPerThread: rng.pick([0, 0, 3, 7, 25]),
      taskTimeout: rng.pick([400, 1200]),
      maxQueue: rng.pick([8, 64, 1024])
    }
    if (rng.next() < 0.5) options.queueTimeout = 800
    const concurrency = rng.pick([4, 16, 40])
    const plan = Array.from({ length: REQUESTS }, (_, i) => ({ i, token: `s${seed}-${i}`, kind: rng.weighted(KINDS), spin: rng.int(20, 80), leaveAfter: rng.int(0, 30) }))
    // A spinning task holds a thread for the whole task timeout: a few are enough.
    let spins = 0
    for (const req of plan) if (req.kind === 'spin' && ++spins > 3) req.kind = 'quick'
    const label = `seed ${seed}, options ${JSON.stringify(options)}, concurrency ${concurrency}`
    t.diagnostic(label)

    const dir = tempDir()
    t.after(dir.remove)
    const mark = dir.file('runs.txt')
    const srv = await startApp(options, (app) => app.get('/work', offload(dispatch, { export: 'work' })))
    t.after(() => srv.close())
    // The route learns it is short: a process pool must still never batch it.
    for (let i = 0; i < 6; i++) assert.equal((await srv.request(`/work?t=warm${i}`)).status, 200, label)

    const deadline = options.taskTimeout + (options.queueTimeout ?? options.taskTimeout) * 2 + 10_000
    const answers = new Map()
    let next = 0
    async function lane () {
      while (next < plan.length) {
        const req = plan[next++]
        let path = `/work?t=${req.token}&mark=${q(mark)}`
        if (req.kind === 'late') path += '&late=1'
        if (req.kind === 'slow') path += `&spin=${req.spin}`
        if (req.kind === 'throw') path += '&do=throw'
        if (req.kind === 'exit') path += '&do=exit'
        if (req.kind === 'segv') path += '&do=segv'
        if (req.kind === 'abort') path += '&do=abort'
        if (req.kind === 'spin') path += '&spin=forever'
        if (req.kind === 'leave') {
          await srv.request(path + '&spin=40', { signal: AbortSignal.timeout(req.leaveAfter + 1) }).catch(() => {})
          continue
        }
        answers.set(req.token, await withDeadline(srv.request(path), deadline, `${label}: request ${req.token} (${req.kind})`))
      }
    }
    await Promise.all(Array.from({ length: concurrency }, lane))
    const mpm = srv.app.mpm
    await waitFor(() => mpm.stats().busy === 0 && mpm.stats().queued === 0, { timeoutMs: 10_000, what: `${label}: the pool at rest` })
    // Late log lines from timers (5 ms) and the log channels settle.
    await new Promise((resolve) => setTimeout(resolve, 200))

    const runs = {}
    for (const token of (dir.read('runs.txt') ?? '').trim().split('\n')) runs[token] = (runs[token] ?? 0) + 1
    const seen = { 200: 0, 418: 0, exited: 0, timedOut: 0, refusedFull: 0, refusedTime: 0 }
    for (const req of plan) {
      const ran = runs[req.token] ?? 0
      assert.ok(ran <= 1, `${label}: ${req.token} (${req.kind}) ran ${ran} times`)
      if (req.kind === 'leave') continue
      const res = answers.get(req.token)
      const body = res.json()
      const what = `${label}: ${req.token} (${req.kind}) answered ${res.status} ${res.text.slice(0, 200)}`
      if (QUEUE_REFUSALS.has(body.code)) {
        assert.equal(res.status, 503, what)
        assert.equal(ran, 0, `${what}, yet it ran`)
        seen[body.code === 'FST_MPM_QUEUE_FULL' ? 'refusedFull' : 'refusedTime']++
        continue
      }
      assert.ok(ALLOWED[req.kind].some(([status, code, message]) => res.status === status && (code === undefined || body.code === code) && (message === undefined || message.test(body.message))), what)
      assert.equal(ran, 1, `${what}, but its handler ran ${ran} times`)
      if (res.status === 200) {
        assert.equal(body.t, req.token, `${what}: another request's answer`)
        seen[200]++
        // Each line it logged reached its own request's logger.
        const lines = srv.logs.filter((l) => l.token === req.token)
        const msgs = lines.map((l) => l.msg)
        // A timer's line is lost only with its thread: one that retired or was stopped within 5 ms.
        const expected = req.kind === 'late' ? ['ran', 'late microtask'] : ['ran']
        for (const msg of expected) assert.ok(msgs.includes(msg), `${what}: no "${msg}" line (got ${msgs})`)
        assert.ok(lines.length <= expected.length + 1, `${what}: log lines ${msgs}`)
        for (const line of lines) assert.equal(line.reqId, body.id, `${what}: line "${line.msg}" under reqId ${line.reqId}`)
      }
      if (res.status === 418) seen[418]++
      if (body.code === 'FST_MPM_PROCESS_CRASHED') seen.exited++
      if (body.code === 'FST_MPM_TASK_TIMEOUT') seen.timedOut++
    }

    // No log line for a fault that did not happen.
    const bogus = srv.logs.filter((l) => /idle thread died|batch failed unexpectedly|without answering|removed thread answered/.test(`${l.msg} ${l.err?.message ?? ''}`))
    assert.deepEqual(bogus.map((l) => l.msg), [], label)

    // Counters add up to what the clients saw; `leave` requests may or may not have reached the pool.
    const stats = mpm.stats()
    const warmups = 6
    const leaves = plan.filter((req) => req.kind === 'leave').length
    const what = `${label}: stats ${JSON.stringify(stats)}, seen ${JSON.stringify(seen)}`
    assert.equal(stats.busy, 0, what)
    assert.equal(stats.queued, 0, what)
    assert.equal(stats.crashed, seen.exited, what)
    assert.equal(stats.threadExits, seen.exited, what)
    assert.equal(stats.timedOut, seen.timedOut, what)
    assert.equal(stats.failed, seen[418], what)
    // What the clients that left account for: each at most once, in one of these.
    const byLeavers = [stats.completed - warmups - seen[200], stats.rejected - seen.refusedFull, stats.queueTimedOut - seen.refusedTime, stats.dropped]
    for (const n of byLeavers) assert.ok(n >= 0, `${what}: a counter below what the clients saw`)
    assert.ok(byLeavers.reduce((x, y) => x + y, 0) <= leaves, `${what}: more than the ${leaves} clients that left`)
    const total = stats.completed + stats.failed + stats.rejected + stats.queueTimedOut + stats.timedOut + stats.crashed + stats.dropped
    const answered = REQUESTS - leaves + warmups
    assert.ok(total >= answered && total <= answered + leaves, `${what}: ${total} tasks counted for ${answered} answered and ${leaves} that left`)
    assert.equal(stats.batched, 0, `${what}: a process pool batched`)
    // More tasks ran than the threads there ever were could run without retiring: one retired.
    const threadsEver = options.threads + stats.threadExits + stats.timedOut
    if (options.maxTasksPerThread > 0 && stats.completed + stats.failed > options.maxTasksPerThread * threadsEver) assert.ok(stats.recycled > 0, what)
  })
}
