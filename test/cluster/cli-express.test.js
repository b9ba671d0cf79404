// `fastify-mpm start` with an Express app module: --threads reaches createMpm() in every process,
// SIGHUP reloads under keep-alive load with no failed request, SIGTERM lets requests in flight
// finish (or answers them 503 + Connection: close at --graceful-timeout), and a missing handler
// module fails the boot (the child awaits mpm.ready() before listening).
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { Agent, request } from 'undici'
import { tempDir } from '../helpers/util.js'
import { answeredBeforeTheKill, fixture, forkedPids, isRunning, runCli, steadyLoad, until } from '../fixtures/cluster/helpers.js'

async function get (url, path, dispatcher) {
  const res = await request(`${url}${path}`, { dispatcher })
  return { status: res.statusCode, headers: res.headers, body: await res.body.json() }
}

describe('fastify-mpm start <Express app> --processes 2 --threads 1:2', { timeout: 120_000 }, () => {
  let cli, url
  const agent = new Agent({ keepAliveTimeout: 100 })
  before(async () => {
    cli = runCli(['start', fixture('express-app.js'), '--processes', '2', '--threads', '1:2', '--port', '0', '--graceful-timeout', '4000'])
    url = await cli.listening()
  })
  after(async () => {
    cli.kill()
    await agent.close()
  })

  test('every process is ready with the CLI\'s threads, and both serve inline and offloaded routes', async () => {
    const ready = cli.logs.filter((l) => l.msg === 'process ready')
    assert.equal(ready.length, 2)
    for (const line of ready) assert.equal(line.threads, '1:2')
    assert.deepEqual((await get(url, '/threads', agent)).body, { min: 1, max: 2 })
    const pids = new Set()
    for (let i = 0; i < 6; i++) pids.add((await get(url, '/thread', agent)).body.pid)
    assert.deepEqual([...pids].sort(), ready.map((l) => l.pid).sort())
  })

  test('SIGHUP under keep-alive load: every process replaced, zero failed requests', async () => {
    const before = cli.logs.filter((l) => l.msg === 'process ready').map((l) => l.pid)
    const load = steadyLoad(url, { connections: 4, pauseMs: 2, path: '/thread' })
    await until(() => load.stats.ok >= 20, { what: 'load to warm up' })
    process.kill(cli.proc.pid, 'SIGHUP')
    const done = await cli.logs.waitFor((l) => l.msg === 'reload finished', 30_000)
    const stats = await load.stop()
    assert.deepEqual(stats.errors, [])
    assert.deepEqual(stats.badStatus, [])
    for (const pid of done.pids) assert.ok(!before.includes(pid))
    for (const pid of stats.pids) assert.ok(before.includes(pid) || done.pids.includes(pid))
  })

  test('SIGTERM with an inline and an offloaded request in flight: both 200, then exit 0', async (t) => {
    const dir = tempDir()
    t.after(dir.remove)
    const marks = [dir.file('slow'), dir.file('thread')]
    const slow = get(url, `/slow?ms=1500&mark=${encodeURIComponent(marks[0])}`, agent)
    const inThread = get(url, `/thread?ms=1500&mark=${encodeURIComponent(marks[1])}`, agent)
    await until(() => marks.every((m) => existsSync(m)), { what: 'both requests to be in flight' })
    process.kill(cli.proc.pid, 'SIGTERM')
    const [a, b] = await Promise.all([slow, inThread])
    assert.equal(a.status, 200)
    assert.equal(a.body.slow, true)
    assert.equal(b.status, 200)
    assert.equal(b.body.thread, true)
    assert.equal((await cli.exited).code, 0)
    for (const pid of forkedPids(cli.logs.lines)) await until(() => !isRunning(pid), { what: `pid ${pid} gone` })
  })
})

test('Express under the CLI: requests running past --graceful-timeout are answered 503 + Connection: close + Retry-After', { timeout: 60_000 }, async (t) => {
  await answeredBeforeTheKill(t, 'express-app.js')
})

test('Express under the CLI: a route offloading a missing module fails the boot, naming the file, exit 1', { timeout: 60_000 }, async (t) => {
  const cli = runCli(['start', fixture('express-app.js'), '--processes', '1', '--port', '0'], { env: { FIXTURE_MISSING_HANDLER: '1' } })
  t.after(() => cli.kill())
  const { code } = await cli.exited
  assert.equal(code, 1)
  assert.match(cli.stderr + JSON.stringify(cli.logs.lines), /no-such-handler\.js/)
  assert.equal(cli.logs.find((l) => l.msg?.startsWith('listening on')), undefined)
})
