// The advisor across fastify-mpm's own cluster(): 2 processes, real HTTP. Whichever child serves
// the page, `loopTime` merges every process's histograms (requests add up), and the page and the
// metrics say the same, for a Fastify app and for an Express app.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { cluster } from 'fastify-mpm'
import { send } from '../helpers/app.js'

for (const [name, app] of [['Fastify', 'advisor-app.js'], ['Express', 'advisor-express-app.js']]) {
  describe(`${name}: the advisor across a cluster of 2`, { timeout: 90_000 }, () => {
    let handle
    let url
    before(async () => {
      handle = await cluster({
        app: new URL(`../fixtures/status/${app}`, import.meta.url),
        processes: 2,
        threads: 1,
        listen: { port: 0, host: '127.0.0.1' },
        gracefulTimeout: 5000,
        signals: false,
        logger: false
      })
      url = handle.address.url
    })
    after(async () => {
      if (handle === undefined) return
      const pids = handle.children().map((c) => c.pid)
      await Promise.race([handle.stop(), sleep(10_000)])
      for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch {} }
    })

    test('loopTime, the page section and fastify_mpm_route_loop_seconds sum both processes', async () => {
      // A new connection each time, so round-robin spreads the requests over the children.
      const pids = new Set()
      for (let i = 0; i < 8; i++) {
        const res = await send(`${url}/spin?ms=30`, { reset: true })
        assert.equal(res.status, 200)
        pids.add(res.json().pid)
      }
      for (let i = 0; i < 4; i++) assert.equal((await send(`${url}/thread?ms=60`, { reset: true })).status, 200)
      assert.equal(pids.size, 2, 'both processes served /spin')

      for (let i = 0; i < 2; i++) {
        const status = (await send(`${url}/server-status?json`, { reset: true })).json()
        assert.equal(status.totals.answered, 2)
        const spin = status.loopTime.find((r) => r.route === 'GET /spin')
        assert.equal(spin.requests, 8, 'both processes\' requests, merged')
        assert.equal(spin.offloaded, false)
        // (Each child is cold here: only a lower bound. The single-process tests check accuracy.)
        assert.ok(spin.blockedMs.p50 >= 30 * 0.85, `p50 ${spin.blockedMs.p50}`)
        assert.ok(spin.share > 0 && spin.share <= 1)
        assert.match(spin.suggestion, /^GET \/spin blocks the event loop \d+ ms at p99 \([\d.]+ % of loop time\): offload it$/)
        const thread = status.loopTime.find((r) => r.route === 'GET /thread')
        assert.equal(thread.requests, 4)
        assert.equal(thread.offloaded, true)
        assert.ok(thread.blockedMs.p50 < 20, `offloaded main-thread p50 ${thread.blockedMs.p50} (cold children: accuracy is the single-process tests')`)
        assert.ok(thread.suggestion === undefined || !/blocks the event loop/.test(thread.suggestion), thread.suggestion)
        assert.equal(status.processes.some((p) => 'loopTime' in p), false, 'per-process histograms stay out of ?json')
      }
      const html = (await send(`${url}/server-status`, { reset: true })).text
      assert.match(html, /<h2>Event-loop time by route<\/h2>/)
      assert.match(html, /GET \/spin blocks the event loop \d+ ms at p99/)
      const metrics = (await send(`${url}/metrics`, { reset: true })).text
      assert.match(metrics, /^fastify_mpm_route_loop_seconds_count\{route="GET \/spin",offloaded="false"\} 8$/m)
      assert.match(metrics, /^fastify_mpm_route_loop_seconds_count\{route="GET \/thread",offloaded="true"\} 4$/m)
    })
  })
}
