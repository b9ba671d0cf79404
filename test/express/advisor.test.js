// The advisor (issue 19) under Express 5 and 4: each declared route's main-thread time, with the
// same `loopTime` keys, page section, metrics and warn line as under Fastify.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { EXPRESSES, startExpress } from './helpers.js'

// Returns how long it really held the thread (see test/status/advisor.test.js: on a busy host,
// past its deadline); the advisor's p50 is checked against that and that against what was asked.
const spin = (ms) => { const start = performance.now(); const end = start + ms; while (performance.now() < end); return performance.now() - start }
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const HANDLERS = new URL('../fixtures/status/advisor-handlers.js', import.meta.url)
const BIG = Array.from({ length: 60_000 }, (_, i) => ({ i, name: `item ${i}`, tags: ['a', 'b'], nested: { ok: i % 2 === 0 } }))

for (const [name, express] of EXPRESSES) {
  describe(`${name}: the advisor`, { timeout: 60_000 }, () => {
    test('5, 20 and 80 ms routes: p50 within 15 % (or 2 ms); a light route never flagged; one warn line per route; an offloaded 80 ms route not blocking', async (t) => {
      const took = { 5: [], 20: [], 80: [] }
      const srv = await startExpress(express, { threads: 1, advisor: true }, (app, mpm) => {
        app.get('/server-status', mpm.status())
        app.get('/metrics', mpm.metrics())
        for (const ms of [5, 20, 80]) app.get(`/d${ms}`, (req, res) => { took[ms].push(spin(ms)); res.json({ ms }) })
        app.get('/warm', (req, res) => { res.json({ id: 'warm' }) })
        app.get('/light/:id', (req, res) => { res.json({ id: req.params.id }) })
        // Runs after the body arrives, in a later tick than the request: still counted.
        const router = express.Router()
        router.post('/parse', express.json(), (req, res) => { spin(30); res.json({ got: req.body }) })
        app.use('/api', router)
        app.get('/thread', mpm.offload(HANDLERS))
        app.get('/big', (req, res) => { res.json(BIG) })
      })
      t.after(() => srv.close())
      srv.mpm.attach(srv.server)
      // prom-client's registry lives as long as the process (both Express majors run here): read growth.
      const counts = async () => {
        const text = (await srv.request('/metrics')).text
        const count = (route, offloaded) => Number(text.match(new RegExp(`^fastify_mpm_route_loop_seconds_count\\{route="${route}",offloaded="${offloaded}"\\} (\\d+)$`, 'm'))?.[1] ?? 0)
        return { d80: count('GET /d80', false), thread: count('GET /thread', true) }
      }
      const before = await counts()
      // First, so Express's own code is warm (compiled) when the timed routes run.
      for (let i = 0; i < 100; i++) await srv.request('/warm')
      for (let i = 0; i < 40; i++) await srv.request(`/light/${i}`)
      for (const ms of [5, 20, 80]) for (let i = 0; i < 21; i++) assert.equal((await srv.request(`/d${ms}`)).status, 200)
      for (let i = 0; i < 4; i++) assert.equal((await srv.request('/api/parse', { json: { i } })).status, 200)
      for (let i = 0; i < 9; i++) assert.equal((await srv.request('/thread?ms=80')).status, 200)
      for (let i = 0; i < 3; i++) await srv.request('/big')

      const status = (await srv.request('/server-status?json')).json()
      const row = (route) => status.loopTime.find((r) => r.route === route)
      for (const ms of [5, 20, 80]) {
        const { blockedMs, requests, offloaded } = row(`GET /d${ms}`)
        assert.equal(requests, 21)
        assert.equal(offloaded, false)
        const truth = median(took[ms])
        assert.ok(truth >= ms)
        assert.ok(Math.abs(blockedMs.p50 - truth) <= Math.max(2, truth * 0.15), `GET /d${ms}: p50 ${blockedMs.p50} ms, the handler's own ${truth.toFixed(2)} ms (asked ${ms})`)
      }
      assert.deepEqual(Object.keys(row('GET /d5')).sort(), ['blockedMs', 'offloaded', 'requests', 'route', 'share'])
      assert.deepEqual(Object.keys(row('GET /d5').blockedMs).sort(), ['max', 'p50', 'p99', 'total'])
      const light = row('GET /light/:id')
      assert.equal(light.requests, 40, 'one row for 40 URLs')
      assert.equal(light.suggestion, undefined)
      assert.ok(light.blockedMs.p50 < 2, `light p50 ${light.blockedMs.p50}`)
      assert.ok(row('POST /api/parse').blockedMs.p50 >= 30 * 0.85, 'a route run after its body was read is counted')
      const thread = row('GET /thread')
      assert.equal(thread.offloaded, true)
      assert.ok(thread.blockedMs.p50 < 5, `offloaded route's main-thread p50 ${thread.blockedMs.p50}`)
      assert.ok(thread.suggestion === undefined || !/blocks the event loop/.test(thread.suggestion))
      assert.ok(row('GET /big').blockedMs.p50 > 10 * light.blockedMs.p50, 'res.json() of a large object is counted')

      const warned = (route) => srv.logs.filter((l) => l.level === 40 && l.route === route)
      assert.equal(warned('GET /d80').length, 1, 'one warn line for 21 slow requests')
      assert.match(warned('GET /d80')[0].msg, /GET \/d80 blocks the event loop \d+ ms at p99 \([\d.]+ % of loop time\): offload it/)
      assert.equal(warned('GET /light/:id').length, 0)
      assert.equal(warned('GET /thread').length, 0)

      const html = (await srv.request('/server-status')).text
      assert.match(html, /Event-loop time by route/)
      assert.match(html, /GET \/d80 blocks the event loop/)
      const after = await counts()
      assert.equal(after.d80 - before.d80, 21, 'fastify_mpm_route_loop_seconds{route="GET /d80",offloaded="false"}')
      assert.equal(after.thread - before.thread, 9, 'fastify_mpm_route_loop_seconds{route="GET /thread",offloaded="true"}')
    })
  })
}
