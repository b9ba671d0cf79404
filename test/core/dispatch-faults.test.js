// The dispatch path under a seeded, randomized mix of options and faults: threads, recycling
// (maxTasksPerThread), task and queue timeouts, queue bounds, keep-alive concurrency, and
// requests that are quick, sometimes slow, throw, exit their thread, spin past their timeout,
// log after they answered, or whose client leaves; and streamed answers that end, fail before
// their first line or after it, or whose client leaves mid-stream. On every request it asserts what the README
// promises: answered once (its handler ran at most once, exactly once if it answered as having
// run), with its own answer, within its deadline, its log lines under its own reqId; and at rest,
// nothing busy or queued and counters that add up to what the clients saw. Half the seeds spread
// the requests over two pools (the default one and a named one with its own knobs): the same
// invariants hold per request, and the counters add up over the pools.
//
// FASTIFY_MPM_FAULT_SEEDS=1,2,3 replays given seeds; every failure names its seed and options.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { offload } from 'fastify-mpm'
import { fixture, startApp } from '../helpers/app.js'
import { tempDir, waitFor, withDeadline } from '../helpers/util.js'
import { random, seeds } from '../helpers/random.js'
import { request } from 'undici'

const dispatch = fixture('dispatch.js')
const q = encodeURIComponent
const ROUNDS = 4
const REQUESTS = 220

const KINDS = { quick: 55, late: 10, slow: 8, throw: 6, exit: 3, spin: 2, leave: 10, stream: 6, streamEarly: 2, streamMid: 2, streamLeave: 3 }
const QUEUE_REFUSALS = new Set(['FST_MPM_QUEUE_FULL', 'FST_MPM_QUEUE_TIMEOUT'])

/** What each kind of request may answer: [status, code] pairs (besides a refusal by a full or slow queue). */
const ALLOWED = {
  quick: [[200]],
  late: [[200]],
  slow: [[200]],
  throw: [[418]],
  exit: [[500, 'FST_MPM_THREAD_EXITED']],
  spin: [[503, 'FST_MPM_TASK_TIMEOUT']],
  stream: [[200]],
  streamEarly: [[418]]
}

for (const seed of seeds('FASTIFY_MPM_FAULT_SEEDS', ROUNDS)) {
  test(`dispatch under random faults, seed ${seed}`, { timeout: 90_000 }, async (t) => {
    const rng = random(seed)
    const options = {
      threads: rng.int(1, 3),
      maxTasksPerThread: rng.pick([0, 0, 3, 7, 25]),
      taskTimeout: rng.pick([400, 1200]),
      maxQueue: rng.pick([8, 64, 1024])
    }
    if (rng.next() < 0.5) options.queueTimeout = 800
    // Its own generator, so a seed's plan for one pool is what it was before pools existed.
    const poolRng = random(seed ^ 0x5eed)
    const pooled = poolRng.next() < 0.5
    if (pooled) options.pools = { side: { threads: poolRng.int(1, 2), maxQueue: poolRng.pick([8, 64]), maxTasksPerThread: poolRng.pick([0, 3]) } }
    const routes = pooled ? ['/work', '/side'] : ['/work']
    const concurrency = rng.pick([4, 16, 40])
    const plan = Array.from({ length: REQUESTS }, (_, i) => ({ i, token: `s${seed}-${i}`, kind: rng.weighted(KINDS), spin: rng.int(20, 80), leaveAfter: rng.int(0, 30), lines: rng.int(1, 40) }))
    // A spinning task holds a thread for the whole task timeout: a few are enough.
    let spins = 0
    for (const req of plan) if (req.kind === 'spin' && ++spins > 3) req.kind = 'quick'
    for (const req of plan) req.route = poolRng.pick(routes)
    const label = `seed ${seed}, options ${JSON.stringify(options)}, concurrency ${concurrency}`
    t.diagnostic(label)

    const dir = tempDir()
    t.after(dir.remove)
    const mark = dir.file('runs.txt')
    const srv = await startApp(options, (app) => {
      app.get('/work', offload(dispatch, { export: 'work' }))
      if (pooled) app.get('/side', offload(dispatch, { export: 'work', pool: 'side' }))
    })
    t.after(() => srv.close())
    // The route learns it is short, so most quick requests go in batches.
    for (const route of routes) for (let i = 0; i < 6; i++) assert.equal((await srv.request(`${route}?t=warm${i}`)).status, 200, label)

    const deadline = options.taskTimeout + (options.queueTimeout ?? options.taskTimeout) * 2 + 10_000
    const answers = new Map()
    let next = 0
    async function lane () {
      while (next < plan.length) {
        const req = plan[next++]
        let path = `${req.route}?t=${req.token}&mark=${q(mark)}`
        if (req.kind === 'late') path += '&late=1'
        if (req.kind === 'slow') path += `&spin=${req.spin}`
        if (req.kind === 'throw') path += '&do=throw'
        if (req.kind === 'exit') path += '&do=exit'
        if (req.kind === 'spin') path += '&spin=forever'
        if (req.kind === 'leave') {
          await srv.request(path + '&spin=40', { signal: AbortSignal.timeout(req.leaveAfter + 1) }).catch(() => {})
          continue
        }
        if (req.kind === 'stream') path += `&stream=${req.lines}`
        if (req.kind === 'streamEarly') path += '&stream=3&sfail=first'
        if (req.kind === 'streamMid' || req.kind === 'streamLeave') {
          path += req.kind === 'streamMid' ? '&stream=3&sfail=mid' : '&stream=50&pace=20'
          // The answer starts, then the socket is cut (mid) or the client leaves after its first line.
          answers.set(req.token, await withDeadline(cutShort(srv, path, req.kind === 'streamLeave'), deadline, `${label}: request ${req.token} (${req.kind})`))
          continue
        }
        answers.set(req.token, await withDeadline(srv.request(path), deadline, `${label}: request ${req.token} (${req.kind})`))
      }
    }
    await Promise.all(Array.from({ length: concurrency }, lane))
    const mpm = srv.app.mpm
    const summed = () => {
      const total = {}
      for (const one of Object.values(mpm.poolStats())) for (const [key, n] of Object.entries(one)) total[key] = (total[key] ?? 0) + n
      return total
    }
    await waitFor(() => summed().busy === 0 && summed().queued === 0, { timeoutMs: 10_000, what: `${label}: every pool at rest` })
    // Late log lines from timers (5 ms) and the log channels settle.
    await new Promise((resolve) => setTimeout(resolve, 200))

    const runs = {}
    const finallies = {}
    for (const token of (dir.read('runs.txt') ?? '').trim().split('\n')) {
      if (token.startsWith('fin ')) finallies[token.slice(4)] = (finallies[token.slice(4)] ?? 0) + 1
      else runs[token] = (runs[token] ?? 0) + 1
    }
    const seen = { 200: 0, 418: 0, exited: 0, timedOut: 0, refusedFull: 0, refusedTime: 0, streamed: 0, streamMid: 0, streamLeave: 0 }
    for (const req of plan) {
      const ran = runs[req.token] ?? 0
      assert.ok(ran <= 1, `${label}: ${req.token} (${req.kind}) ran ${ran} times`)
      if (req.kind === 'leave') continue
      const res = answers.get(req.token)
      if (req.kind === 'streamMid' || req.kind === 'streamLeave') {
        const what = `${label}: ${req.token} (${req.kind}) ${JSON.stringify(res)}`
        if (res.refused !== undefined) {
          assert.ok(QUEUE_REFUSALS.has(res.refused), what)
          assert.equal(ran, 0, `${what}, yet it ran`)
          seen[res.refused === 'FST_MPM_QUEUE_FULL' ? 'refusedFull' : 'refusedTime']++
          continue
        }
        // Its head and first line came, its own; then the socket was cut (mid) or the client left.
        assert.equal(res.status, 200, what)
        // A line written just before the socket is cut may not reach the client; one that does is its own.
        if (req.kind === 'streamLeave' || res.first !== undefined) assert.equal(res.first?.t, req.token, `${what}: another request's answer`)
        assert.equal(res.cut, true, `${what}: the stream was not cut short`)
        assert.equal(ran, 1, what)
        // The producer was stopped: its generator's finally ran, once.
        assert.equal(finallies[req.token], 1, `${what}: finally ran ${finallies[req.token] ?? 0} times`)
        seen[req.kind]++
        continue
      }
      const what = `${label}: ${req.token} (${req.kind}) answered ${res.status} ${res.text.slice(0, 200)}`
      const body = req.kind === 'stream' && res.status === 200 ? {} : res.json()
      if (QUEUE_REFUSALS.has(body.code)) {
        assert.equal(res.status, 503, what)
        assert.equal(ran, 0, `${what}, yet it ran`)
        seen[body.code === 'FST_MPM_QUEUE_FULL' ? 'refusedFull' : 'refusedTime']++
        continue
      }
      assert.ok(ALLOWED[req.kind].some(([status, code]) => res.status === status && (code === undefined || body.code === code)), what)
      assert.equal(ran, 1, `${what}, but its handler ran ${ran} times`)
      if (req.kind === 'stream') {
        const got = res.text.trim().split('\n').map((l) => JSON.parse(l))
        assert.equal(got.length, req.lines, `${what}: ${got.length} lines`)
        for (const line of got) assert.equal(line.t, req.token, `${what}: another request's line`)
        assert.equal(finallies[req.token], 1, `${what}: finally ran ${finallies[req.token] ?? 0} times`)
        seen.streamed++
        continue
      }
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
      if (body.code === 'FST_MPM_THREAD_EXITED') seen.exited++
      if (body.code === 'FST_MPM_TASK_TIMEOUT') seen.timedOut++
    }

    // No log line for a fault that did not happen.
    const bogus = srv.logs.filter((l) => /idle thread died|batch failed unexpectedly|without answering/.test(`${l.msg} ${l.err?.message ?? ''}`))
    assert.deepEqual(bogus.map((l) => l.msg), [], label)

    // Counters add up to what the clients saw; `leave` requests may or may not have reached the pool.
    const stats = summed()
    const warmups = 6 * routes.length
    const leaves = plan.filter((req) => req.kind === 'leave').length
    const what = `${label}: stats ${JSON.stringify(stats)}, seen ${JSON.stringify(seen)}`
    assert.equal(stats.busy, 0, what)
    assert.equal(stats.queued, 0, what)
    assert.equal(stats.crashed, seen.exited, what)
    assert.equal(stats.threadExits, seen.exited, what)
    assert.equal(stats.timedOut, seen.timedOut, what)
    // A stream failing mid-way fails its task (418 before its first line was thrown, as inline).
    assert.equal(stats.failed, seen[418] + seen.streamMid, what)
    // What the clients that left account for: each at most once, in one of these.
    const byLeavers = [stats.completed - warmups - seen[200] - seen.streamed - seen.streamLeave, stats.rejected - seen.refusedFull, stats.queueTimedOut - seen.refusedTime, stats.dropped]
    for (const n of byLeavers) assert.ok(n >= 0, `${what}: a counter below what the clients saw`)
    assert.ok(byLeavers.reduce((x, y) => x + y, 0) <= leaves, `${what}: more than the ${leaves} clients that left`)
    const total = stats.completed + stats.failed + stats.rejected + stats.queueTimedOut + stats.timedOut + stats.crashed + stats.dropped
    const answered = REQUESTS - leaves + warmups
    assert.ok(total >= answered && total <= answered + leaves, `${what}: ${total} tasks counted for ${answered} answered and ${leaves} that left`)
    assert.ok(stats.batched <= total, `${what}: a task counted as batched more than once`)
    // More tasks ran than the threads there ever were could run without retiring: one retired (per pool).
    for (const [name, own] of Object.entries(mpm.poolStats())) {
      const knobs = name === 'default' ? options : options.pools[name]
      const threadsEver = knobs.threads + own.threadExits + own.timedOut
      const maxTasks = knobs.maxTasksPerThread ?? options.maxTasksPerThread
      if (maxTasks > 0 && own.completed + own.failed > maxTasks * threadsEver) assert.ok(own.recycled > 0, `${what}, pool ${name}`)
    }
  })
}

/**
 * A streamed answer read up to its first line; `leave`: the client then goes away, else it reads
 * on until the server cuts the socket. A queue refusal comes back as `{ refused: code }`.
 */
async function cutShort (srv, path, leave) {
  const controller = new AbortController()
  const res = await request(srv.url + path, { dispatcher: srv.agent, signal: controller.signal })
  if (res.statusCode !== 200) {
    const text = await res.body.text()
    const code = JSON.parse(text).code
    return QUEUE_REFUSALS.has(code) ? { refused: code } : { status: res.statusCode, text }
  }
  let buffered = ''
  let first
  try {
    for await (const chunk of res.body) {
      buffered += chunk
      const nl = buffered.indexOf('\n')
      if (first === undefined && nl >= 0) {
        first = JSON.parse(buffered.slice(0, nl))
        if (leave) {
          controller.abort()
          return { status: 200, first, cut: true }
        }
      }
    }
    return { status: 200, first, cut: false }
  } catch {
    return { status: 200, first, cut: true }
  }
}
