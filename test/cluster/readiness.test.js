// Readiness for load balancers and Kubernetes: the opt-in endpoint (200 ready, 503 saturated or
// draining) and --shutdown-delay, the window after SIGTERM where readiness already fails but a
// cluster started with the CLI still serves, before it closes its listener.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import Fastify from 'fastify'
import mpm, { cluster, offload } from 'fastify-mpm'
import { send, startApp } from '../helpers/app.js'
import { tempDir, waitFor, withDeadline } from '../helpers/util.js'
import { CLI, fixture, runCli } from '../fixtures/cluster/helpers.js'

const handlers = new URL('../fixtures/status/handlers.js', import.meta.url)

test('readiness: 200 while taking work, 503 once the queue passes maxQueueFraction, 200 again after', { timeout: 60_000 }, async (t) => {
  const dir = tempDir()
  t.after(dir.remove)
  const srv = await startApp({ threads: 1, maxQueue: 4, readiness: { path: '/healthz/ready', maxQueueFraction: 0.5 } }, (app) => {
    app.get('/gate', offload(handlers, { export: 'gate' }))
  })
  t.after(() => srv.close())
  const ready = await srv.request('/healthz/ready')
  assert.equal(ready.status, 200)
  assert.equal(ready.text, 'ready\n')
  assert.equal(ready.headers['cache-control'], 'no-store')
  assert.equal((await srv.request('/ready')).status, 404, 'the path is the configured one')

  const gate = dir.gate('saturate')
  // One running, two queued: 2 of 4 places = the 0.5 fraction.
  const running = [1, 2, 3].map(() => srv.request(`/gate?gate=${encodeURIComponent(gate.path)}`))
  try {
    const saturated = await waitFor(async () => {
      const res = await srv.request('/healthz/ready')
      return res.status === 503 ? res : null
    }, { timeoutMs: 10_000, what: 'readiness to fail with a half-full queue' })
    assert.match(saturated.text, /^not ready: saturated: 2 of 4 queue places taken/)
  } finally {
    gate.open()
  }
  for (const res of await Promise.all(running)) assert.equal(res.status, 200)
  assert.equal((await srv.request('/healthz/ready')).status, 200)
})

test('readiness: bad values fail register() naming the option', async () => {
  for (const [readiness, name] of [
    ['yes', 'readiness'],
    [{ path: 'ready' }, 'readiness.path'],
    [{ maxQueueFraction: 0 }, 'readiness.maxQueueFraction'],
    [{ maxQueueFraction: 1.5 }, 'readiness.maxQueueFraction'],
    [{ interval: 1 }, 'readiness.interval'],
    [{ path: '/server-status' }, 'readiness.path']
  ]) {
    const app = Fastify()
    const err = await app.register(mpm, { threads: 1, status: true, readiness }).ready().then(() => null, (e) => e)
    await app.close().catch(() => {})
    assert.ok(err, `readiness: ${JSON.stringify(readiness)} is refused`)
    assert.equal(err.code, 'FST_MPM_INVALID_OPTION')
    assert.ok(err.message.includes(name), `${err.message} names ${name}`)
  }
  await assert.rejects(cluster({ app: fixture('app.js'), shutdownDelay: -1, logger: false }), /shutdownDelay/)
})

test('--shutdown-delay: after SIGTERM readiness fails at once, requests are still served, then the cluster exits 0', { timeout: 90_000 }, async (t) => {
  const DELAY = 3000
  const cli = runCli(['start', fixture('app.js'), '--processes', '2', '--threads', '1', '--port', '0', '--shutdown-delay', String(DELAY)])
  t.after(() => cli.kill())
  const url = await cli.listening()
  // New connections each time: the listener must still accept during the delay.
  const get = (path) => send(`${url}${path}`, { reset: true, headers: { connection: 'close' } })
  assert.equal((await get('/ready')).status, 200)

  const signalledAt = Date.now()
  cli.proc.kill('SIGTERM')
  const failing = await waitFor(async () => {
    const res = await get('/ready')
    return res.status === 503 ? res : null
  }, { timeoutMs: DELAY - 500, intervalMs: 50, what: 'readiness to fail after SIGTERM' })
  assert.match(failing.text, /not ready: draining \(SIGTERM\)/)
  // Both processes fail readiness, and both still serve.
  const served = new Set()
  // (Round-robin alternates new connections between the two: so two of each per turn.)
  while (Date.now() - signalledAt < DELAY - 800) {
    for (const path of ['/ready', '/ready', '/pid', '/pid']) {
      const res = await get(path)
      if (path === '/ready') assert.equal(res.status, 503)
      else {
        assert.equal(res.status, 200)
        served.add(res.json().pid)
      }
    }
  }
  assert.equal(served.size, 2, 'requests still reach both processes during the delay')
  const { code } = await withDeadline(cli.exited, 30_000, 'the CLI exiting after the delay')
  assert.equal(code, 0)
  assert.ok(Date.now() - signalledAt >= DELAY, 'the listener stayed open for the whole delay')
  const stopping = cli.logs.lines.find((l) => l.msg?.startsWith('stopping'))
  assert.equal(stopping.shutdownDelay, DELAY)
})

test('--help lists --shutdown-delay, --max-memory and --max-memory-jitter with what they pair with', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, '--help'])
  for (const flag of ['--shutdown-delay <ms>', '--max-memory <MB>', '--max-memory-jitter <MB>']) assert.ok(stdout.includes(flag), `${flag} is listed`)
  assert.match(stdout, /preStop/)
  assert.match(stdout, /max_memory_restart/)
})
