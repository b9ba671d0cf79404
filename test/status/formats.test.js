// The status page in each format, in one process: HTML, ?auto (Apache's keys), ?json, ?refresh,
// the scoreboard letters while handlers run and wait, per-route times, and the slow log.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { offload } from 'fastify-mpm'
import { startApp } from '../helpers/app.js'
import { BIG, CHUNK, CHUNKS, checkByteCounts } from '../helpers/bytes.js'
import { tempDir, waitFor } from '../helpers/util.js'

const handlers = new URL('../fixtures/status/handlers.js', import.meta.url)

/** Parses ?auto's `Key: value` lines. */
function parseAuto (text) {
  const out = {}
  for (const line of text.trimEnd().split('\n')) {
    const match = /^([A-Za-z][A-Za-z ]*): (.*)$/.exec(line)
    assert.ok(match, `not a "Key: value" line: ${JSON.stringify(line)}`)
    out[match[1]] = match[2]
  }
  return out
}

describe('status formats', { timeout: 60_000 }, () => {
  let srv
  let dir
  before(async () => {
    dir = tempDir()
    srv = await startApp({ threads: { min: 1, max: 3 }, maxQueue: 8, status: true, slowTaskThreshold: 150 }, (app) => {
      app.get('/quick', offload(handlers))
      app.get('/wait', offload(handlers, { export: 'wait' }))
      app.get('/gate', offload(handlers, { export: 'gate' }))
      app.get('/fail', offload(handlers, { export: 'fail' }))
      app.get('/light', async () => ({ light: true }))
    })
  })
  after(async () => { await srv?.close(); dir?.remove() })

  const auto = async () => {
    const res = await srv.request('/server-status?auto')
    assert.equal(res.status, 200)
    return parseAuto(res.text)
  }

  test('?auto: Apache keys, one scoreboard letter per thread slot', async () => {
    const res = await srv.request('/server-status?auto')
    assert.match(res.headers['content-type'], /^text\/plain/)
    assert.equal(res.headers['cache-control'], 'no-store')
    const keys = parseAuto(res.text)
    for (const key of ['ServerVersion', 'Total Accesses', 'Total kBytes', 'Uptime', 'ReqPerSec', 'BusyWorkers',
      'IdleWorkers', 'GracefulWorkers', 'Processes', 'QueueDepth', 'Scoreboard']) {
      assert.ok(key in keys, `?auto has ${key}`)
    }
    assert.match(keys.ServerVersion, /^fastify-mpm\/\d+\.\d+\.\d+ \(Node\.js v\d+/)
    assert.match(keys.Scoreboard, /^[_WSG.]{3}$/, '3 slots (threads max 3)')
    assert.equal(keys.Processes, '1')
    assert.equal(keys.QueueDepth, '0')
    assert.ok(Number.isFinite(Number(keys.ReqPerSec)))
  })

  test('/server-status/ (trailing slash, as Apache tooling asks) answers like /server-status', async () => {
    const keys = parseAuto((await srv.request('/server-status/?auto')).text)
    assert.match(keys.ServerVersion, /^fastify-mpm\//)
    assert.equal(keys.Processes, '1')
    const html = await srv.request('/server-status/')
    assert.equal(html.status, 200)
    assert.match(html.headers['content-type'], /^text\/html/)
    assert.equal((await srv.request('/server-status/?json')).json().server.name, 'fastify-mpm')
  })

  test('Total Accesses counts every request served, light routes included', async () => {
    const before = Number((await auto())['Total Accesses'])
    for (let i = 0; i < 3; i++) assert.equal((await srv.request('/light')).status, 200)
    const after = Number((await auto())['Total Accesses'])
    // +3 light requests, +1 for the ?auto request that read `before` (counted once it was sent).
    assert.equal(after, before + 4)
  })

  test('a running handler shows as W, waiting tasks as the queue; both clear after', async () => {
    const gate = dir.gate('busy')
    const running = [1, 2, 3, 4, 5].map(() => srv.request(`/gate?gate=${encodeURIComponent(gate.path)}`))
    try {
      const seen = await waitFor(async () => {
        const keys = await auto()
        return keys.Scoreboard === 'WWW' && keys.QueueDepth === '2' ? keys : null
      }, { timeoutMs: 15_000, what: 'three busy slots and two queued tasks' })
      assert.equal(seen.BusyWorkers, '3')
      assert.equal(seen.IdleWorkers, '0')
      const json = (await srv.request('/server-status?json')).json()
      assert.equal(json.totals.queued, 2)
      assert.equal(json.processes[0].pool.queued, 2)
      const html = (await srv.request('/server-status')).text
      const grid = /<div class="grid">(.*?)<\/div>/.exec(html)?.[1] ?? ''
      assert.equal(grid.match(/class="cell s-busy"/g)?.length, 3, 'three W cells in the grid')
      assert.match(html, /queue 2 \/ 8(<span class="qcell"><\/span>){2}</)
    } finally {
      gate.open()
    }
    for (const res of await Promise.all(running)) assert.equal(res.status, 200)
    const idle = await waitFor(async () => {
      const keys = await auto()
      return keys.BusyWorkers === '0' ? keys : null
    }, { timeoutMs: 10_000, what: 'no busy slot' })
    assert.doesNotMatch(idle.Scoreboard, /W/)
    assert.equal(idle.QueueDepth, '0')
  })

  test('?json: the same data, with per-route count, mean, p50 and p99', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await srv.request('/quick')).status, 200)
    for (const ms of [20, 40, 60]) assert.equal((await srv.request(`/wait?ms=${ms}`)).status, 200)
    assert.equal((await srv.request('/fail')).status, 500)
    const res = await srv.request('/server-status?json')
    assert.match(res.headers['content-type'], /^application\/json/)
    const status = res.json()
    assert.equal(status.server.name, 'fastify-mpm')
    assert.equal(status.server.mode, 'single')
    assert.equal(status.server.pid, process.pid)
    assert.equal(status.processes.length, 1)
    const [proc] = status.processes
    assert.equal(proc.answered, true)
    assert.equal(proc.pid, process.pid)
    assert.equal(proc.scoreboard.length, 3)
    assert.equal(status.scoreboard, proc.scoreboard)
    assert.equal(proc.pool.maxThreads, 3)
    assert.ok(proc.accesses >= 9)
    const routes = Object.fromEntries(status.routes.map((r) => [r.route, r]))
    assert.equal(routes['GET /quick'].count, 5)
    assert.deepEqual(routes['GET /quick'].results, { ok: 5 })
    const wait = routes['GET /wait']
    assert.equal(wait.count, 3)
    assert.ok(wait.meanMs >= 20, `mean ${wait.meanMs} ms covers at least the shortest wait`)
    assert.ok(wait.p50Ms >= 20 && wait.p50Ms <= wait.p99Ms && wait.p99Ms <= wait.maxMs, JSON.stringify(wait))
    assert.equal(routes['GET /fail'].results.error, 1)
    assert.equal(routes['GET /light'], undefined, 'only offloaded routes have handler times')
    assert.equal('buckets' in wait, false, 'internal histogram stays internal')
  })

  test('HTML: the grid, the key, processes and routes; ?refresh=N adds a meta refresh', async () => {
    const res = await srv.request('/server-status')
    assert.equal(res.status, 200)
    assert.match(res.headers['content-type'], /^text\/html/)
    const html = res.text
    const grid = /<div class="grid">(.*?)<\/div>/.exec(html)?.[1] ?? ''
    assert.equal(grid.match(/class="cell /g)?.length, 3, 'one cell per thread slot')
    for (const letter of ['_', 'W', 'S', 'G', '.']) assert.match(html, new RegExp(`data-state="\\w+" title="[^"]*">${letter.replace('.', '\\.')}</span>`))
    assert.match(html, /<table id="processes">[\s\S]*<td>\d+<small>ready<\/small><\/td>/)
    assert.match(html, /<td class="route">GET \/wait<\/td><td>\d+<\/td><td>\d+\.\d+ ms<\/td>/)
    // A route nobody called has no times: a dash, not a measured 0.00 ms.
    assert.match(html, /<td class="route">HEAD \/wait<\/td><td>0<\/td>(<td>–<\/td>){4}<td>0<\/td>/)
    assert.doesNotMatch(html, /http-equiv="refresh"/)
    assert.match((await srv.request('/server-status?refresh=5')).text, /<meta http-equiv="refresh" content="5">/)
    assert.doesNotMatch((await srv.request('/server-status?refresh=abc')).text, /http-equiv="refresh"/)
  })

  test('slow log: one warn line per task over slowTaskThreshold, with route, reqId, duration and module', async () => {
    assert.equal((await srv.request('/wait?ms=250')).status, 200)
    assert.equal((await srv.request('/quick')).status, 200)
    const line = await srv.logs.waitFor((l) => /slow task/.test(l.msg ?? '') && l.route === 'GET /wait', 5000)
    assert.equal(line.level, 40)
    assert.ok(line.durationMs >= 250, `durationMs ${line.durationMs}`)
    assert.equal(line.module, handlers.href)
    assert.equal(line.export, 'wait')
    assert.equal(line.slowTaskThreshold, 150)
    assert.match(line.reqId, /^req-/)
    assert.match(line.msg, /GET \/wait took \d+ ms \(threshold 150 ms\)/)
    assert.equal(srv.logs.filter((l) => /slow task/.test(l.msg ?? '') && l.route === 'GET /quick').length, 0)
  })
})

test('every offloaded route is listed from the start, with zero counts (?json and HTML)', { timeout: 20_000 }, async (t) => {
  const srv = await startApp({ threads: 1, status: true }, (app) => {
    app.get('/quick', offload(handlers))
    app.post('/wait', offload(handlers, { export: 'wait' }))
    app.get('/light', async () => ({ light: true }))
  })
  t.after(() => srv.close())
  const status = (await srv.request('/server-status?json')).json()
  assert.deepEqual(status.routes.map((r) => r.route), ['GET /quick', 'HEAD /quick', 'POST /wait'])
  for (const route of status.routes) {
    assert.deepEqual({ count: route.count, meanMs: route.meanMs, p99Ms: route.p99Ms, results: route.results },
      { count: 0, meanMs: 0, p99Ms: 0, results: {} }, route.route)
  }
  assert.deepEqual(status.processes[0].routes.map((r) => r.route), ['GET /quick', 'HEAD /quick', 'POST /wait'])
  const html = (await srv.request('/server-status')).text
  assert.match(html, /<td class="route">GET \/quick<\/td>/)
  assert.match(html, /<td class="route">POST \/wait<\/td>/)
  // Counting still works once a route has run.
  assert.equal((await srv.request('/quick')).status, 200)
  const after = (await srv.request('/server-status?json')).json()
  assert.equal(after.routes.find((r) => r.route === 'GET /quick').count, 1)
  assert.equal(after.routes.find((r) => r.route === 'POST /wait').count, 0)
})

test('bytes: body bytes of every answer, with a Content-Length in writeHead(), chunked, offloaded, HEAD', { timeout: 20_000 }, async (t) => {
  const srv = await startApp({ threads: 1, status: true }, (app) => {
    app.get('/big', async () => 'x'.repeat(BIG))
    app.get('/chunked', async (request, reply) => reply.send(Readable.from(Array.from({ length: CHUNKS }, () => Buffer.alloc(CHUNK, 'y')))))
    app.get('/offloaded', offload(handlers))
  })
  t.after(() => srv.close())
  await checkByteCounts(srv)
})
