// Recycling after maxRequestsPerProcess (+ jitter) and the heartbeat watchdog, through the API.
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { test } from 'node:test'
import { request } from 'undici'
import { tempDir } from '../helpers/util.js'
import { startCluster, steadyLoad, until, isRunning, livePids } from '../fixtures/cluster/helpers.js'

test('maxRequestsPerProcess + jitter: processes are replaced, the new one listening first, no request fails', { timeout: 90_000 }, async (t) => {
  const c = await startCluster({ maxRequestsPerProcess: 30, maxRequestsJitter: 10 })
  t.after(c.teardown)
  const recycled = []
  c.handle.on('recycle', (child, requests) => recycled.push({ pid: child.pid, requests }))
  const load = steadyLoad(c.url, { connections: 2, pauseMs: 10, maxRequests: 3000 })
  await until(() => c.logs.filter((l) => l.msg === 'process exited' && l.reason === 'max-requests').length >= 2,
    { timeoutMs: 60_000, what: 'two recycled processes to exit' })
  const stats = await load.stop()
  assert.deepEqual(stats.errors, [])
  assert.deepEqual(stats.badStatus, [])
  assert.ok(recycled.length >= 2)

  const asks = c.logs.filter((l) => l.reason === 'max-requests' && l.msg.startsWith('recycling process after'))
  for (const line of asks) assert.ok(line.requests >= 30 && line.requests <= 40, `asked after ${line.requests} requests (30 + 0..10)`)
  // For each recycled process: a replacement was ready before it exited.
  for (const { pid } of recycled.slice(0, 2)) {
    const exitAt = c.logs.lines.findIndex((l) => l.msg === 'process exited' && l.pid === pid)
    const askAt = c.logs.lines.findIndex((l) => l.msg.startsWith('recycling') && l.pid === pid)
    const readyAt = c.logs.lines.findIndex((l, i) => i > askAt && l.msg === 'process ready' && l.reason === 'recycle')
    assert.ok(askAt >= 0 && readyAt > askAt && readyAt < exitAt, `replacement of ${pid} listened before it exited`)
  }
  assert.ok(c.handle.restarts >= 2)
})

test('heartbeat: a process whose event loop is blocked past heartbeatTimeout is killed and replaced', { timeout: 60_000 }, async (t) => {
  const c = await startCluster({ heartbeatTimeout: 1500 })
  t.after(c.teardown)
  const before = livePids(c.handle)
  // The forgotten-to-offload route: 20 s of busy loop on the main thread.
  const blocked = request(`${c.url}/block?ms=20000`).then((res) => res.body.dump().then(() => res.statusCode), (err) => err)
  const line = await c.logs.waitFor((l) => l.reason === 'heartbeat' && l.msg.startsWith('process unresponsive'), 20_000)
  assert.ok(before.includes(line.pid))
  assert.ok(line.silentMs > 1500, `silent for ${line.silentMs} ms`)
  assert.match(line.msg, /silent for \d+ ms \(heartbeatTimeout 1500 ms\)/)
  const outcome = await blocked
  assert.ok(outcome instanceof Error, 'the blocked request died with its process')
  await until(() => !isRunning(line.pid), { what: 'the blocked process to be gone' })
  await c.logs.waitFor((l) => l.msg === 'process ready' && l.reason === 'respawn', 20_000)
  assert.equal(livePids(c.handle).length, 2)
  assert.ok(!livePids(c.handle).includes(line.pid))
  for (let i = 0; i < 4; i++) {
    const res = await request(`${c.url}/pid`)
    assert.equal(res.statusCode, 200)
    await res.body.dump()
  }
})

test('stop(): a request still running when gracefulTimeout is about to end is answered 503 + Connection: close, and its process exits by itself', { timeout: 60_000 }, async (t) => {
  const c = await startCluster({ gracefulTimeout: 1500 })
  t.after(c.teardown)
  const dir = tempDir()
  t.after(dir.remove)
  const mark = dir.file('slow')
  const stuck = request(`${c.url}/slow?ms=60000&mark=${encodeURIComponent(mark)}`)
    .then(async (res) => ({ status: res.statusCode, connection: res.headers.connection, body: await res.body.text() }), (err) => err)
  await until(() => existsSync(mark), { what: 'the request to be in flight' })
  const busyPid = Number(readFileSync(mark, 'utf8'))
  await c.handle.stop()
  const result = await c.handle.stopped
  assert.equal(result.exitCode, 0)
  const answer = await stuck
  assert.equal(answer.status, 503, `the stuck request was answered, not cut: ${answer.message ?? answer.body}`)
  assert.equal(answer.connection, 'close')
  assert.equal(c.logs.find((l) => l.msg.startsWith('process still busy after gracefulTimeout')), undefined, 'nothing had to be killed')
  assert.equal(c.logs.find((l) => l.msg === 'process exited' && l.pid === busyPid).code, 0)
  assert.equal(isRunning(busyPid), false)
})
