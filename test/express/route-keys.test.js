// Routes, metrics series and status rows come from the app's code, never from the client's URL:
// a use() mount (no req.route) sees every path under it, and 500 distinct paths there (in any
// case) must stay one route, one series, one row. A mount with a parameter is named by its
// pattern; a route by its method and path.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { fixture } from '../helpers/app.js'
import { runConcurrently } from '../helpers/util.js'
import { EXPRESSES, startExpress } from './helpers.js'

const faults = fixture('faults.js')
const PATHS = 500

for (const [name, express] of EXPRESSES) {
  describe(`${name}: route keys`, { timeout: 60_000 }, () => {
    test(`${PATHS} distinct paths under a use() mount are one route, one series, one status row`, async (t) => {
      const srv = await startExpress(express, { threads: 2 }, (app, mpm) => {
        app.use('/api', mpm.offload(faults, { export: 'whoami' }))
        app.use('/t/:tenant', mpm.offload(faults, { export: 'whoami' }))
        app.get('/users/:id', mpm.offload(faults, { export: 'whoami' }))
        app.get('/server-status', mpm.status())
        app.get('/metrics', mpm.metrics())
      })
      t.after(() => srv.close())
      const paths = Array.from({ length: PATHS }, (_, i) => i % 2 === 0 ? `/api/item-${i}/x?y=${i}` : `/API/Other-${i}`)
      await runConcurrently(paths.length, 8, async (i) => assert.equal((await srv.request(paths[i])).status, 200, paths[i]))
      for (const tenant of ['acme', 'globex', 'initech']) assert.equal((await srv.request(`/t/${tenant}/report`)).status, 200)
      for (const id of ['1', '2', '3']) assert.equal((await srv.request(`/users/${id}`)).status, 200)

      const status = (await srv.request('/server-status?json')).json()
      const rows = status.routes.map((r) => r.route).sort()
      assert.deepEqual(rows, ['GET /users/:id', 'USE /api/*', 'USE /t/:tenant/*'])
      assert.equal(status.routes.find((r) => r.route === 'USE /api/*').count, PATHS)
      assert.equal(status.processes[0].routes.length, 3)

      const metrics = (await srv.request('/metrics')).text
      const series = new Set(metrics.split('\n')
        .filter((l) => l.startsWith('fastify_mpm_tasks_total{'))
        .map((l) => /route="([^"]*)"/.exec(l)?.[1]))
      assert.deepEqual([...series].sort(), ['GET /users/:id', 'USE /api/*', 'USE /t/:tenant/*'])
      assert.doesNotMatch(metrics, /item-|Other-|acme|globex/i, 'no client path in any series')
    })
  })
}

describe('Express: names at startup', { timeout: 30_000 }, () => {
  test('ready() logs each handler as file#export (no route is known before a request), the route once one came', async (t) => {
    const srv = await startExpress(EXPRESSES[0][1], { threads: 1 }, (app, mpm) => {
      app.get('/who', mpm.offload(faults, { export: 'whoami' }))
      app.use('/api', mpm.offload(faults, { export: 'sleep' }))
    })
    t.after(() => srv.close())
    const line = await srv.logs.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('fastify-mpm: offloaded routes'))
    assert.equal(line.msg, 'fastify-mpm: offloaded routes: faults.js#whoami, faults.js#sleep')
    assert.deepEqual(line.routes, [
      { module: faults.href, export: 'whoami' },
      { module: faults.href, export: 'sleep' }
    ])
    assert.equal((await srv.request('/who')).status, 200)
    assert.deepEqual(srv.mpm.core.routes.map((r) => r.route), ['GET /who'])
  })
})
