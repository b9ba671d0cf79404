// Named pools with Express (5 and 4), over real HTTP: an unknown pool fails at mpm.offload(),
// naming the handler; routes, run() and stats by pool; and the saturation case, two pools vs one
// shared pool, as with Fastify.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createMpm } from 'fastify-mpm/express'
import { fixture } from '../helpers/app.js'
import { bound, saturate, suffered } from '../helpers/saturation.js'
import { EXPRESSES, startExpress } from './helpers.js'

const pools = fixture('pools.js')

test('createMpm(): pools checked by name; an unknown pool fails at offload(), naming the handler and the pools', async () => {
  assert.throws(() => createMpm({ pools: { reports: { threads: 0.5 } } }), { code: 'FST_MPM_INVALID_OPTION', message: /"pools\.reports\.threads"/ })
  const mpm = createMpm({ threads: 1, pools: { reports: { threads: 1 } } })
  try {
    assert.throws(() => mpm.offload(pools, { export: 'slow', pool: 'report' }),
      { code: 'FST_MPM_UNKNOWN_POOL', message: /offload\(pools\.js#slow\) uses pool "report".*\(pools: default, reports\)/ })
    assert.deepEqual(Object.keys(mpm.poolStats()), ['default', 'reports'])
    assert.equal(mpm.stats('reports').maxThreads, 1)
  } finally {
    await mpm.close()
  }
})

for (const [name, express] of EXPRESSES) {
  test(`${name}: routes and run() in their pools`, async (t) => {
    const srv = await startExpress(express, { threads: 1, pools: { side: { threads: 1 } } }, (app, mpm) => {
      app.get('/main', mpm.offload(pools, { export: 'fast' }))
      app.get('/side', mpm.offload(pools, { export: 'fast', pool: 'side' }))
    })
    t.after(() => srv.close())
    const main = (await srv.request('/main')).json().threadId
    const side = (await srv.request('/side')).json().threadId
    assert.notEqual(main, side)
    assert.equal(srv.mpm.stats('side').completed, 1)
    assert.equal((await srv.mpm.run(pools, 1, { export: 'where', pool: 'side' })).threadId, side)
  })
}

for (const shared of [false, true]) {
  test(`Express: ${shared ? 'one shared pool: the quick route suffers' : 'pool slow saturated (503s), pool fast keeps its p99 and gets no 503'}`, { timeout: 60_000 }, async (t) => {
    const options = shared
      ? { threads: 1, pools: { slow: { threads: 1, maxQueue: 10 } } }
      : { threads: 1, pools: { slow: { threads: 1, maxQueue: 10 }, fast: { threads: 1 } } }
    const srv = await startExpress(EXPRESSES[0][1], { ...options, logger: silent() }, (app, mpm) => {
      app.get('/slow', mpm.offload(pools, { export: 'slow', pool: 'slow' }))
      app.get('/fast', mpm.offload(pools, { export: 'fast', pool: shared ? 'slow' : 'fast' }))
      app.use((err, req, res, next) => { res.status(err.status ?? 500).json({ code: err.code }) })
    })
    t.after(() => srv.close(2000))
    const r = await saturate(srv.url, { samples: shared ? 20 : 60 })
    t.diagnostic(JSON.stringify(r))
    assert.ok(r.saturated, `the slow pool answered 503s: ${JSON.stringify(r.slowStatuses)}`)
    if (shared) {
      assert.ok(suffered(r), JSON.stringify(r))
    } else {
      assert.deepEqual(r.fastStatuses, { 200: 60 })
      assert.ok(r.loadedP99 <= bound(r.idleP99), `fast p99 ${r.loadedP99.toFixed(1)} ms under load, idle ${r.idleP99.toFixed(1)} ms`)
    }
  })
}

function silent () {
  const log = { child: () => log, levelVal: 50 }
  for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal']) log[level] = () => {}
  return log
}
