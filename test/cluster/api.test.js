// cluster() through its API, in this process: reload under keep-alive load, a reload whose new
// code fails, scale(n), and kill -9 of a child under load. Real processes, real HTTP.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { describe, test, before, after } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { tempDir } from '../helpers/util.js'
import { startCluster, livePids, steadyLoad, pinnedLoad, until, isRunning } from '../fixtures/cluster/helpers.js'
import { cluster } from 'fastify-mpm'

describe('cluster() options', () => {
  test('bad options fail before anything is forked, naming the option', async () => {
    const app = new URL('../fixtures/cluster/app.js', import.meta.url)
    await assert.rejects(cluster({ app, processes: 0 }), { code: 'FST_MPM_INVALID_OPTION', message: /"processes"/ })
    await assert.rejects(cluster({ app, threads: '2:1' }), { code: 'FST_MPM_INVALID_OPTION', message: /threads\.min/ })
    await assert.rejects(cluster({ app, workers: 2 }), { code: 'FST_MPM_INVALID_OPTION', message: /"workers" is not a cluster option/ })
    await assert.rejects(cluster({ app: './app.js' }), { code: 'FST_MPM_INVALID_OPTION', message: /relative/ })
    await assert.rejects(cluster({ app: new URL('./nope.js', app) }), { code: 'FST_MPM_INVALID_OPTION', message: /nope\.js does not exist/ })
    await assert.rejects(cluster({ app, listen: { port: 70000 } }), { code: 'FST_MPM_INVALID_OPTION', message: /listen\.port/ })
  })
})

describe('a running cluster (2 processes × 1 thread)', { timeout: 120_000 }, () => {
  const dir = tempDir('fastify-mpm-cluster-')
  const flag = dir.file('flag')
  let c
  before(async () => {
    writeFileSync(flag, 'ok')
    process.env.FIXTURE_FLAG_FILE = flag
    c = await startCluster()
  })
  after(async () => {
    await c?.teardown()
    delete process.env.FIXTURE_FLAG_FILE
    dir.remove()
  })

  test('reload() under steady keep-alive load: zero failed requests, zero resets, every pid replaced', async () => {
    const before = livePids(c.handle)
    assert.equal(before.length, 2)
    const load = steadyLoad(c.url, { connections: 4, pauseMs: 2 })
    await until(() => load.stats.ok >= 20, { what: 'load to warm up' })
    const { pids } = await c.handle.reload()
    await sleep(200)
    const stats = await load.stop()
    assert.deepEqual(stats.errors, [], 'no request failed and no connection was reset')
    assert.deepEqual(stats.badStatus, [])
    assert.ok(stats.ok > 40, `load kept flowing (${stats.ok} ok)`)
    assert.equal(pids.length, 2)
    for (const pid of pids) assert.ok(!before.includes(pid), `pid ${pid} is new`)
    for (const pid of before) assert.ok(!isRunning(pid), `old pid ${pid} exited`)
    // Each new process listened before an old one was asked to stop.
    const order = c.logs.lines.filter((l) => (l.msg === 'process ready' && l.reason === 'reload') ||
      (l.msg === 'process exited' && l.reason === 'reload'))
    assert.deepEqual(order.map((l) => l.msg), ['process ready', 'process exited', 'process ready', 'process exited'])
  })

  test('reload() with new code that fails to boot stops, and the old processes keep serving', async () => {
    const before = livePids(c.handle)
    writeFileSync(flag, 'broken')
    const load = steadyLoad(c.url, { connections: 2 })
    await assert.rejects(c.handle.reload(), { code: 'FST_MPM_RELOAD_FAILED', message: /this build is broken/ })
    const stats = await load.stop()
    writeFileSync(flag, 'ok')
    assert.deepEqual(livePids(c.handle), before, 'the same processes still serve')
    assert.deepEqual(stats.errors, [])
    assert.deepEqual(stats.badStatus, [])
    assert.deepEqual([...stats.pids].sort(), before)
    const logged = c.logs.find((l) => l.reason === 'reload-failed')
    assert.match(logged.msg, /old processes keep serving.*this build is broken/)
    const res = await request(`${c.url}/pid`)
    assert.equal(res.statusCode, 200)
    await res.body.dump()
  })

  test('scale(n) adds processes, then removes the oldest gracefully', async () => {
    const before = livePids(c.handle)
    await c.handle.scale(3)
    assert.equal(c.handle.processes, 3)
    assert.equal(livePids(c.handle).length, 3)
    await c.handle.scale(1)
    const after = livePids(c.handle)
    assert.equal(after.length, 1)
    assert.ok(!before.includes(after[0]), 'the newest process is kept')
    for (const pid of before) await until(() => !isRunning(pid), { what: `pid ${pid} to exit` })
    const exits = c.logs.filter((l) => l.msg === 'process exited' && l.reason === 'scale')
    assert.equal(exits.length, 2)
    for (const line of exits) assert.equal(line.code, 0, 'graceful exit')
    await c.handle.scale(2)
    assert.equal(livePids(c.handle).length, 2)
    await assert.rejects(c.handle.scale(0), TypeError)
  })

  test('kill -9 of one child under load: survivors see no error, a replacement is forked', async () => {
    const [victim, survivor] = livePids(c.handle)
    const load = pinnedLoad(c.url, { lanes: 6 })
    await until(() => (load.stats.okByPid.get(survivor) ?? 0) > 10 && (load.stats.okByPid.get(victim) ?? 0) > 10,
      { what: 'both processes to serve' })
    process.kill(victim, 'SIGKILL')
    const replacement = await c.logs.waitFor((l) => l.msg === 'process ready' && l.reason === 'respawn', 20_000)
    const servedBefore = load.stats.okByPid.get(survivor)
    await until(() => (load.stats.okByPid.get(replacement.pid) ?? 0) > 0 || load.stats.okByPid.get(survivor) > servedBefore + 20,
      { what: 'traffic after the respawn' })
    const stats = await load.stop()
    for (const err of stats.errors) assert.equal(err.lastPid, victim, `only connections to the killed process failed (${JSON.stringify(err)})`)
    assert.ok(stats.okByPid.get(survivor) > servedBefore, 'the survivor kept serving')
    assert.ok(c.logs.find((l) => l.pid === victim && l.msg.startsWith('process exited unexpectedly') && l.signal === 'SIGKILL'))
    assert.equal(c.handle.restarts, 1)
    assert.equal(livePids(c.handle).length, 2)
    assert.ok(!livePids(c.handle).includes(victim))
  })
})
