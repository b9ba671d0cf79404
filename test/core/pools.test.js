// Named pools (bulkheads) with Fastify, over real HTTP: options checked by name, a route bound to
// its pool (an unknown one fails at declaration and ready()), run() in a pool, each pool's own
// threads, queue and stats, startup checks per pool, close over all, and the saturation case: a
// slow pool full of 503s leaves a route in another pool alone, where one shared pool does not.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import mpm, { offload } from 'fastify-mpm'
import { fixture, startApp } from '../helpers/app.js'
import { bound, saturate, suffered } from '../helpers/saturation.js'

const pools = fixture('pools.js')

async function registerFails (options) {
  const app = Fastify({ logger: false })
  try {
    return await app.register(mpm, options).ready().then(() => null, (err) => err)
  } finally {
    await app.close().catch(() => {})
  }
}

test('pools options are checked by name, before any thread starts', async () => {
  const cases = [
    [{ pools: [] }, /option "pools" must be an object/],
    [{ pools: { default: {} } }, /"pools\.default" is the top-level options' pool/],
    [{ pools: { '9lives': {} } }, /"pools\.9lives" is not a valid pool name/],
    [{ pools: { ['a'.repeat(33)]: {} } }, /is not a valid pool name/],
    [{ pools: { reports: 4 } }, /"pools\.reports" must be an object/],
    [{ pools: { reports: { threads: 'x' } } }, /"pools\.reports\.threads" must look like/],
    [{ pools: { reports: { threads: { min: 3, max: 2 } } } }, /"pools\.reports\.threads\.min"/],
    [{ pools: { reports: { maxQueue: -1 } } }, /"pools\.reports\.maxQueue" must be an integer/],
    [{ pools: { reports: { isolation: 'fork' } } }, /"pools\.reports\.isolation" must be 'thread' or 'process'/],
    [{ pools: { reports: { readiness: 'yes' } } }, /"pools\.reports\.readiness" must be a boolean/],
    [{ pools: { reports: { retryAfter: 3 } } }, /"pools\.reports\.retryAfter" is not a pool option \(known: threads, /]
  ]
  for (const [options, message] of cases) {
    const err = await registerFails(options)
    assert.equal(err?.code, 'FST_MPM_INVALID_OPTION', JSON.stringify(options))
    assert.match(err.message, message)
  }
  assert.throws(() => offload(pools, { pool: 'no good' }), { code: 'FST_MPM_INVALID_HANDLER', message: /opts\.pool must be a pool name/ })
})

test('a named pool\'s defaults: 1 thread, its own queue; time limits and recycling from the top level; --threads never', async (t) => {
  process.env.FASTIFY_MPM_THREADS = '3'
  t.after(() => { delete process.env.FASTIFY_MPM_THREADS })
  const srv = await startApp({ taskTimeout: 1234, maxTasksPerThread: 7, maxQueue: 99, pools: { a: {}, b: { taskTimeout: 50, threads: 2, maxQueue: 5 } } }, () => {}, { listen: false })
  t.after(() => srv.close())
  const [a, b] = srv.app.mpm.options.pools
  assert.equal(srv.app.mpm.options.maxThreads, 3, 'the environment (--threads) sets the default pool')
  assert.deepEqual([a.minThreads, a.maxThreads, a.maxQueue, a.taskTimeout, a.queueTimeout, a.maxTasksPerThread, a.isolation, a.readiness], [1, 1, 512, 1234, 1234, 7, 'thread', false])
  assert.deepEqual([b.maxThreads, b.maxQueue, b.taskTimeout, b.queueTimeout], [2, 5, 50, 50], 'queueTimeout follows the pool\'s own taskTimeout')
  const stats = srv.app.mpm.poolStats()
  assert.deepEqual(Object.keys(stats), ['default', 'a', 'b'])
  assert.equal(stats.b.maxQueue, 5)
  assert.equal(srv.app.mpm.stats().maxThreads, 3, 'stats() stays the default pool\'s')
  assert.equal(srv.app.mpm.stats('b').maxThreads, 2)
  assert.throws(() => srv.app.mpm.stats('c'), { code: 'FST_MPM_UNKNOWN_POOL', message: /stats\(\) uses pool "c".*\(pools: default, a, b\)/ })
})

test('an unknown pool fails where the route is declared, and ready(), naming the route, the pool and the pools there are', async () => {
  const app = Fastify({ logger: false })
  await app.register(mpm, { threads: 1, pools: { reports: { threads: 1 } } })
  assert.throws(() => app.get('/pdf', offload(pools, { export: 'slow', pool: 'report' })),
    { code: 'FST_MPM_UNKNOWN_POOL', message: /route GET \/pdf uses pool "report", which the plugin's `pools` option does not name \(pools: default, reports\)/ })
  await assert.rejects(app.ready(), { code: 'FST_MPM_UNKNOWN_POOL' })
  await app.close()
  // Declared inside a plugin: register() / ready() reject.
  const nested = Fastify({ logger: false })
  await nested.register(mpm, { threads: 1 })
  nested.register(async (scope) => { scope.get('/x', offload(pools, { pool: 'reports' })) })
  await assert.rejects(nested.ready(), { code: 'FST_MPM_UNKNOWN_POOL', message: /route GET \/x uses pool "reports".*\(pools: default\)/ })
  await nested.close()
})

test('each route runs in its own pool\'s threads; run() takes a pool; a broken module in a named pool fails ready() naming its route', async (t) => {
  const srv = await startApp({ threads: 1, pools: { side: { threads: 1 } } }, (app) => {
    app.get('/main', offload(pools, { export: 'fast' }))
    app.get('/side', offload(pools, { export: 'fast', pool: 'side' }))
  })
  t.after(() => srv.close())
  const main = (await srv.request('/main')).json().threadId
  const side = (await srv.request('/side')).json().threadId
  assert.notEqual(main, side, 'two pools, two threads')
  assert.equal((await srv.request('/side')).json().threadId, side)
  const stats = srv.app.mpm.poolStats()
  assert.equal(stats.default.completed, 1)
  assert.equal(stats.side.completed, 2)
  assert.equal((await srv.app.mpm.run(pools, 5, { export: 'where', pool: 'side' })).threadId, side)
  assert.equal((await srv.app.mpm.run(pools, 5, { export: 'where' })).threadId, main)
  await assert.rejects(srv.app.mpm.run(pools, 5, { export: 'where', pool: 'nope' }), { code: 'FST_MPM_UNKNOWN_POOL', message: /run\(\) uses pool "nope"/ })
  assert.ok(srv.logs.lines.some((l) => /offloaded routes: .*GET \/side → pools\.js#fast \(pool side\)/.test(l.msg ?? '')), 'the startup line names the pool')

  const err = await (async () => {
    const app = Fastify({ logger: false })
    await app.register(mpm, { threads: 1, pools: { side: { threads: 1 } } })
    app.get('/ok', offload(pools, { export: 'fast' }))
    app.get('/broken', offload(pools, { export: 'missing', pool: 'side' }))
    try { return await app.ready().then(() => null, (e) => e) } finally { await app.close() }
  })()
  assert.equal(err?.code, 'FST_MPM_HANDLER_EXPORT')
  assert.match(err.message, /route GET \/broken, HEAD \/broken: module .*pools\.js has no exported function "missing"/)
})

test('close() waits for every pool\'s running tasks, then refuses new ones in every pool', async () => {
  const srv = await startApp({ threads: 1, pools: { side: { threads: 1 } } }, (app) => {
    app.get('/slow', offload(pools, { export: 'slow', pool: 'side' }))
    app.get('/main', offload(pools, { export: 'slow' }))
  })
  const running = [srv.request('/slow?ms=300'), srv.request('/main?ms=300')]
  await new Promise((resolve) => setTimeout(resolve, 100))
  const closing = srv.app.close()
  assert.deepEqual((await Promise.all(running)).map((r) => r.status), [200, 200], 'both pools finished their task')
  await closing
  await assert.rejects(srv.app.mpm.run(pools, 1, { export: 'where', pool: 'side' }), { code: 'FST_MPM_CLOSING' })
  await srv.close()
})

for (const shared of [false, true]) {
  const name = shared
    ? 'one shared pool: the same hammering DOES reach the quick route (503s or waits)'
    : 'isolation under saturation: pool slow (1 thread, maxQueue 10) answers 503s, a route in pool fast keeps its p99 and gets no 503'
  test(name, { timeout: 60_000 }, async (t) => {
    const options = shared
      ? { threads: 1, pools: { slow: { threads: 1, maxQueue: 10 } } }
      : { threads: 1, pools: { slow: { threads: 1, maxQueue: 10 }, fast: { threads: 1 } } }
    const srv = await startApp({ ...options, taskTimeout: 10_000 }, (app) => {
      app.get('/slow', offload(pools, { export: 'slow', pool: 'slow' }))
      app.get('/fast', offload(pools, { export: 'fast', pool: shared ? 'slow' : 'fast' }))
    }, { logLevel: 'error' })
    t.after(() => srv.close(2000))
    const r = await saturate(srv.url, { samples: shared ? 20 : 60 })
    t.diagnostic(JSON.stringify(r))
    assert.ok(r.saturated, `the slow pool answered 503s: ${JSON.stringify(r.slowStatuses)}`)
    if (shared) {
      assert.ok(suffered(r), `the quick route suffered: ${JSON.stringify(r)}`)
    } else {
      assert.deepEqual(r.fastStatuses, { 200: 60 }, 'never a 503 for the fast route')
      assert.ok(r.loadedP99 <= bound(r.idleP99), `fast p99 ${r.loadedP99.toFixed(1)} ms under load, idle ${r.idleP99.toFixed(1)} ms (bound ${bound(r.idleP99).toFixed(1)} ms)`)
      assert.equal(srv.app.mpm.stats('fast').rejected, 0)
      assert.ok(srv.app.mpm.stats('slow').rejected > 0)
    }
  })
}
