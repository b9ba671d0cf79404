// The cluster's guarantees, run once for a Fastify app module and once for an Express one (the
// same fixture routes): rolling reload under keep-alive load with no failed request, the status
// page and metrics cluster-wide, recycling after maxRequestsPerProcess, crash respawn, and a
// graceful stop that lets the requests in flight (inline and offloaded) finish.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { send } from '../helpers/app.js'
import { tempDir } from '../helpers/util.js'
import { isRunning, livePids, startCluster, steadyLoad, until } from '../fixtures/cluster/helpers.js'

const APPS = [
  ['Fastify', new URL('../fixtures/cluster/app.js', import.meta.url)],
  ['Express', new URL('../fixtures/cluster/express-app.js', import.meta.url)]
]

for (const [framework, app] of APPS) {
  describe(`${framework} app under cluster() (2 processes × 1 thread)`, { timeout: 120_000 }, () => {
    let c
    before(async () => {
      process.env.FIXTURE_STATUS = '1'
      c = await startCluster({ app })
    })
    after(async () => {
      await c?.teardown()
      delete process.env.FIXTURE_STATUS
    })
    // A new connection each time, so round-robin spreads the requests over the children.
    const fresh = (path) => send(`${c.url}${path}`, { reset: true })

    test('status ?json shows every process whichever serves it; metrics are summed', async () => {
      const pids = livePids(c.handle)
      for (let i = 0; i < 4; i++) assert.equal((await fresh('/thread')).status, 200)
      const served = new Set()
      for (let i = 0; i < 4; i++) {
        const status = (await fresh('/server-status?json')).json()
        assert.equal(status.server.mode, 'cluster')
        assert.equal(status.totals.answered, 2)
        assert.deepEqual(status.processes.map((p) => p.pid).sort(), pids)
        served.add(status.server.servedBy)
      }
      assert.deepEqual([...served].sort(), pids, 'both processes served the page')
      const metrics = (await fresh('/metrics')).text
      assert.match(metrics, /^fastify_mpm_tasks_total\{route="GET \/thread",result="ok"\} 4$/m)
      assert.match(metrics, /^fastify_mpm_processes\{state="ready"\} 2$/m)
    })

    test('reload() under keep-alive load on an offloaded route: zero failed requests, every pid replaced', async () => {
      const before = livePids(c.handle)
      const load = steadyLoad(c.url, { connections: 4, pauseMs: 2, path: '/thread' })
      await until(() => load.stats.ok >= 20, { what: 'load to warm up' })
      const { pids } = await c.handle.reload()
      await sleep(200)
      const stats = await load.stop()
      assert.deepEqual(stats.errors, [], 'no request failed and no connection was reset')
      assert.deepEqual(stats.badStatus, [])
      assert.ok(stats.ok > 40, `load kept flowing (${stats.ok} ok)`)
      for (const pid of pids) assert.ok(!before.includes(pid), `pid ${pid} is new`)
      for (const pid of before) assert.ok(!isRunning(pid), `old pid ${pid} exited`)
    })

    test('kill -9 of a child: respawned, counted, and the cluster serves on', async () => {
      const [victim] = livePids(c.handle)
      const restarts = c.handle.restarts
      process.kill(victim, 'SIGKILL')
      await until(() => c.handle.restarts === restarts + 1 && livePids(c.handle).length === 2 && !livePids(c.handle).includes(victim),
        { what: 'the replacement to be ready' })
      for (let i = 0; i < 4; i++) assert.equal((await fresh('/thread')).status, 200)
    })

    test('stop(): an inline and an offloaded request in flight both finish with 200, then every process exits', async () => {
      const dir = tempDir()
      try {
        const marks = [dir.file('inline'), dir.file('offloaded')]
        const inline = send(`${c.url}/slow?ms=800&mark=${encodeURIComponent(marks[0])}`, { reset: true })
        const offloaded = send(`${c.url}/thread?ms=800&mark=${encodeURIComponent(marks[1])}`, { reset: true })
        await until(() => marks.every((m) => existsSync(m)), { what: 'both requests in flight' })
        const pids = livePids(c.handle)
        await c.handle.stop()
        assert.equal((await inline).status, 200)
        assert.equal((await offloaded).status, 200)
        for (const pid of pids) await until(() => !isRunning(pid), { what: `pid ${pid} to exit` })
        const exits = c.logs.filter((l) => l.msg === 'process exited' && pids.includes(l.pid))
        for (const line of exits) assert.equal(line.code, 0, 'graceful exit')
      } finally {
        dir.remove()
      }
    })
  })

  test(`${framework}: maxRequestsPerProcess recycles processes with no failed request`, { timeout: 90_000 }, async (t) => {
    const c = await startCluster({ app, maxRequestsPerProcess: 30 })
    t.after(c.teardown)
    const load = steadyLoad(c.url, { connections: 2, pauseMs: 5, maxRequests: 3000, path: '/thread' })
    await until(() => c.logs.filter((l) => l.msg === 'process exited' && l.reason === 'max-requests').length >= 2,
      { timeoutMs: 60_000, what: 'two recycled processes to exit' })
    const stats = await load.stop()
    assert.deepEqual(stats.errors, [])
    assert.deepEqual(stats.badStatus, [])
    assert.ok(c.handle.restarts >= 2)
  })
}
