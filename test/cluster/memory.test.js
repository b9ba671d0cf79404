// maxProcessMemory through the CLI: a process whose RSS passes its limit is replaced the way
// maxRequestsPerProcess replaces one (the new process listens before the old one drains), so
// steady keep-alive load sees zero failed requests. Shown in the log and in the primary's metrics.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { send } from '../helpers/app.js'
import { withDeadline } from '../helpers/util.js'
import { fixture, runCli, steadyLoad, until } from '../fixtures/cluster/helpers.js'

test('--max-memory: a leaking process is recycled, the new one listening first, zero failed requests', { timeout: 120_000 }, async (t) => {
  const cli = runCli(['start', fixture('app.js'), '--processes', '2', '--threads', '1', '--port', '0',
    '--max-memory', '300', '--max-memory-jitter', '20', '--graceful-timeout', '5000'], { env: { FIXTURE_STATUS: '1' } })
  t.after(() => cli.kill())
  const url = await cli.listening()
  const load = steadyLoad(url, { connections: 4, pauseMs: 5 })
  let recycling
  try {
    // 64 MB a request, spread over both processes by round-robin: bounded at 16 requests (1 GB).
    for (let i = 0; i < 16 && recycling === undefined; i++) {
      assert.equal((await send(`${url}/leak?mb=64`, { reset: true })).status, 200)
      recycling = await until(() => cli.logs.lines.find((l) => l.reason === 'max-memory' && l.msg.startsWith('recycling process')),
        { timeoutMs: 1500, what: 'a memory recycle' }).catch(() => undefined)
    }
    assert.ok(recycling, 'a process passed its limit and asked to be replaced')
    assert.ok(recycling.rss > recycling.limit)
    assert.ok(recycling.limit >= 280 * 1048576 && recycling.limit <= 300 * 1048576, `limit ${recycling.limit} is 300 MB minus 0..20 MB jitter`)
    await until(() => cli.logs.lines.find((l) => l.msg === 'process exited' && l.reason === 'max-memory' && l.pid === recycling.pid),
      { timeoutMs: 30_000, what: 'the leaking process to exit' })
    const fresh = cli.logs.lines.find((l) => l.msg === 'process ready' && l.reason === 'recycle')
    assert.ok(fresh, 'a replacement was forked for the recycle')
    const exitedAt = cli.logs.lines.findIndex((l) => l.msg === 'process exited' && l.pid === recycling.pid)
    assert.ok(cli.logs.lines.indexOf(fresh) < exitedAt, 'the replacement listened before the old process went')
    // Shown on the status page and in the primary's metrics.
    const auto = (await send(`${url}/server-status?auto`, { reset: true })).text
    assert.match(auto, /^ProcessesRecycledMemory: [12]$/m)
    assert.match(auto, /^ProcessRestarts: [12]$/m)
    const metrics = (await send(`${url}/metrics`, { reset: true })).text
    assert.match(metrics, /^fastify_mpm_process_recycles_total\{reason="max-memory"\} [12]$/m)
    assert.match(metrics, /^fastify_mpm_process_resident_memory_bytes\{pid="\d+"\} \d+/m)
    // Keep the load going a little over the new pair.
    await new Promise((resolve) => setTimeout(resolve, 500))
  } finally {
    const stats = await load.stop()
    assert.deepEqual(stats.errors, [], 'no request failed')
    assert.deepEqual(stats.badStatus, [])
    assert.ok(stats.ok > 50, `steady load ran (${stats.ok} ok)`)
  }
  cli.proc.kill('SIGTERM')
  assert.equal((await withDeadline(cli.exited, 30_000, 'the CLI exiting')).code, 0)
})

test('maxThreadMemory in a CLI cluster: leaking threads are recycled in every process, zero failed requests', { timeout: 60_000 }, async (t) => {
  const cli = runCli(['start', fixture('app.js'), '--processes', '2', '--threads', '1', '--port', '0'],
    { env: { FIXTURE_STATUS: '1', FIXTURE_MAX_THREAD_MEMORY: '40' } })
  t.after(() => cli.kill())
  const url = await cli.listening()
  // 24 requests of 8 MB over 2 processes × 1 thread: each thread passes 40 MB every ~5 tasks.
  for (let i = 0; i < 24; i++) {
    const res = await send(`${url}/thread-leak?mb=8`, { reset: true })
    assert.equal(res.status, 200, res.text)
  }
  const status = (await send(`${url}/server-status?json`, { reset: true })).json()
  assert.ok(status.totals.recycledMemory >= 2, `recycledMemory ${status.totals.recycledMemory}`)
  assert.ok(status.processes.every((p) => p.pool.recycledMemory >= 1), 'in both processes')
  assert.equal(status.totals.crashed + status.totals.failed, 0)
  cli.proc.kill('SIGTERM')
  assert.equal((await withDeadline(cli.exited, 30_000, 'the CLI exiting')).code, 0)
})

test('--max-memory-jitter of half the limit or more is a usage error naming it', { timeout: 30_000 }, async () => {
  const cli = runCli(['start', fixture('app.js'), '--port', '0', '--max-memory', '100', '--max-memory-jitter', '50'])
  const { code } = await withDeadline(cli.exited, 20_000, 'the CLI exiting')
  assert.equal(code, 2)
  assert.match(cli.stderr, /maxProcessMemoryJitter/)
})
