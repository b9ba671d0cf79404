// The operator view with named pools, in one process over real HTTP: ?json per pool and per
// route, ?auto's Apache totals summed over the pools plus Pool.<name>.* keys, the HTML scoreboard
// with a row per pool, metrics with a `pool` label, and /ready counting only the default pool and
// pools marked `readiness: true`.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { offload } from 'fastify-mpm'
import { startApp } from '../helpers/app.js'
import { tempDir, waitFor } from '../helpers/util.js'

const handlers = new URL('../fixtures/status/handlers.js', import.meta.url)

function parseAuto (text) {
  const out = {}
  for (const line of text.trimEnd().split('\n')) {
    const match = /^([A-Za-z][\w .-]*): (.*)$/.exec(line)
    assert.ok(match, `not a "Key: value" line: ${JSON.stringify(line)}`)
    out[match[1]] = match[2]
  }
  return out
}

describe('operator view with pools (default 2 threads, side 1, strict 1 with readiness)', { timeout: 60_000 }, () => {
  let srv
  let dir
  before(async () => {
    dir = tempDir()
    srv = await startApp({
      threads: 2,
      maxQueue: 4,
      status: true,
      metrics: true,
      readiness: { maxQueueFraction: 0.5 },
      pools: { side: { threads: 1, maxQueue: 2 }, strict: { threads: 1, maxQueue: 2, readiness: true } }
    }, (app) => {
      app.get('/quick', offload(handlers))
      app.get('/side', offload(handlers, { export: 'gate', pool: 'side' }))
      app.get('/strict', offload(handlers, { export: 'gate', pool: 'strict' }))
      app.get('/main', offload(handlers, { export: 'gate' }))
    })
  })
  after(async () => { await srv?.close(); dir?.remove() })

  /** Fills `path`'s pool: one task running, one waiting (half of maxQueue 2); returns the release. */
  let gates = 0
  async function fill (path, pool) {
    const gate = dir.gate(`${path.slice(1)}-${++gates}`)
    const url = `${path}?gate=${encodeURIComponent(gate.path)}`
    const answers = [srv.request(url), srv.request(url)]
    await waitFor(() => srv.app.mpm.stats(pool).queued === 1, { timeoutMs: 10_000, what: `${pool}: one running, one queued` })
    return async () => {
      gate.open()
      for (const res of await Promise.all(answers)) assert.equal(res.status, 200)
      await waitFor(() => srv.app.mpm.stats(pool).busy === 0, { timeoutMs: 10_000, what: `${pool} idle` })
    }
  }

  test('?json, ?auto, HTML and metrics show each pool; Apache totals are over all of them', async () => {
    assert.equal((await srv.request('/quick')).status, 200)
    const release = await fill('/side', 'side')
    try {
      const status = (await srv.request('/server-status?json')).json()
      assert.deepEqual(Object.keys(status.totals.pools), ['default', 'side', 'strict'])
      const { side } = status.totals.pools
      assert.equal(side.isolation, 'thread')
      assert.equal(side.busy, 1)
      assert.equal(side.queued, 1)
      assert.equal(side.maxQueue, 2)
      assert.equal(side.scoreboard, 'W')
      assert.equal(status.totals.pools.default.completed, 1)
      assert.equal(status.totals.queued, 1, 'totals add the pools up')
      assert.equal(status.totals.maxQueue, 4 + 2 + 2)
      assert.equal(status.scoreboard.length, 4, 'one letter per slot of every pool')
      const proc = status.processes[0]
      assert.deepEqual(proc.pools.map((p) => [p.name, p.scoreboard.length]), [['default', 2], ['side', 1], ['strict', 1]])
      assert.equal(status.routes.find((r) => r.route === 'GET /side').pool, 'side')
      assert.equal(status.routes.find((r) => r.route === 'GET /quick').pool, 'default')

      const auto = parseAuto((await srv.request('/server-status?auto')).text)
      assert.equal(auto.BusyWorkers, '1')
      assert.equal(auto.QueueDepth, '1')
      assert.equal(auto.MaxQueue, '8')
      assert.match(auto.Scoreboard, /^[_WS.]{4}$/)
      assert.equal(auto['Pool.side.BusyWorkers'], '1')
      assert.equal(auto['Pool.side.QueueDepth'], '1')
      assert.equal(auto['Pool.side.Scoreboard'], 'W')
      assert.equal(auto['Pool.default.QueueDepth'], '0')
      assert.equal(auto['Pool.strict.Isolation'], 'thread')
      const lines = (await srv.request('/server-status?auto')).text.trimEnd().split('\n')
      assert.match(lines.at(-1), /^Scoreboard: /, 'Scoreboard stays the last line')

      const html = (await srv.request('/server-status')).text
      for (const pool of ['default', 'side', 'strict']) assert.match(html, new RegExp(`class="row" data-pid="\\d+" data-pool="${pool}"`))
      assert.match(html, /title="pid \d+, pool side, thread slot 1: running a handler"/)

      const metrics = (await srv.request('/metrics')).text
      assert.match(metrics, /^fastify_mpm_threads\{state="busy",pool="side"\} 1$/m)
      assert.match(metrics, /^fastify_mpm_threads\{state="idle",pool="strict"\} 1$/m)
      assert.match(metrics, /^fastify_mpm_queue_depth\{pool="side"\} 1$/m)
      assert.match(metrics, /^fastify_mpm_queue_max\{pool="default"\} 4$/m)
      assert.match(metrics, /^fastify_mpm_thread_restarts_total\{reason="crashed",pool="side"\} 0$/m)
    } finally {
      await release()
    }
  })

  test('/ready: a saturated side pool leaves the process ready; the default pool or a readiness: true pool does not', async () => {
    assert.equal((await srv.request('/ready')).status, 200)
    let release = await fill('/side', 'side')
    try {
      assert.equal((await srv.request('/ready')).status, 200, 'pool side answers its own 503s; the process stays in the balancer')
    } finally { await release() }

    release = await fill('/strict', 'strict')
    try {
      const res = await srv.request('/ready')
      assert.equal(res.status, 503)
      assert.match(res.text, /^not ready: saturated \(pool strict\): 1 of 2 queue places taken/)
    } finally { await release() }
    assert.equal((await srv.request('/ready')).status, 200)

    // The default pool: 2 threads, maxQueue 4, so 2 running and 2 waiting.
    const gate = dir.gate('main')
    const url = `/main?gate=${encodeURIComponent(gate.path)}`
    const answers = Array.from({ length: 4 }, () => srv.request(url))
    try {
      await waitFor(() => srv.app.mpm.stats().queued === 2, { timeoutMs: 10_000, what: 'two queued in the default pool' })
      const res = await srv.request('/ready')
      assert.equal(res.status, 503)
      assert.match(res.text, /saturated \(pool default\): 2 of 4/)
    } finally {
      gate.open()
      await Promise.all(answers)
    }
  })
})
