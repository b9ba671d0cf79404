// The operator view under Express, 5 and 4: mpm.status() in its three formats with the routes and
// requests the Express app served, mpm.metrics() in Prometheus text, the allow list (checked
// against the connection, a second client on 127.0.0.2), and mpm.readiness() going 503 when
// the pool is saturated.
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Agent } from 'undici'
import { fixture, send } from '../helpers/app.js'
import { BIG, CHUNK, CHUNKS, checkByteCounts } from '../helpers/bytes.js'
import { tempDir, waitFor } from '../helpers/util.js'
import { EXPRESSES, startExpress } from './helpers.js'

const faults = fixture('faults.js')
const fromOther = new Agent({ localAddress: '127.0.0.2' })
after(() => fromOther.close())

function parseAuto (text) {
  return Object.fromEntries(text.trim().split('\n').map((line) => {
    const at = line.indexOf(': ')
    return [line.slice(0, at), line.slice(at + 2)]
  }))
}

for (const [name, express] of EXPRESSES) {
  describe(`${name}: status, metrics, readiness`, { timeout: 60_000 }, () => {
    test('status (?auto, ?json, HTML) and metrics show the offloaded routes and the requests served', async (t) => {
      const srv = await startExpress(express, { threads: 2 }, (app, mpm) => {
        app.get('/whoami', mpm.offload(faults, { export: 'whoami' }))
        app.get('/light', (req, res) => { res.json({ light: true }) })
        app.get('/server-status', mpm.status())
        app.get('/metrics', mpm.metrics())
      })
      t.after(() => srv.close())
      // prom-client's counters live as long as the process: this test reads how much they grew.
      const tasksOk = async () => {
        const text = (await srv.request('/metrics')).text
        const line = text.split('\n').find((l) => l.startsWith('fastify_mpm_tasks_total{') && l.includes('route="GET /whoami"') && l.includes('result="ok"'))
        return line === undefined ? 0 : Number(line.split(' ').at(-1))
      }
      const tasksBefore = await tasksOk()
      for (let i = 0; i < 3; i++) assert.equal((await srv.request('/whoami')).status, 200)
      assert.equal((await srv.request('/light')).status, 200)

      const auto = await srv.request('/server-status?auto')
      assert.equal(auto.status, 200)
      assert.match(auto.headers['content-type'], /^text\/plain/)
      const keys = parseAuto(auto.text)
      // 3 offloaded, 1 light, 1 metrics read before them; the first request counted too.
      assert.equal(keys['Total Accesses'], '5')
      assert.equal(keys.Scoreboard.length, 2)
      assert.equal(keys.BusyWorkers, '0')

      const json = (await srv.request('/server-status?json')).json()
      assert.equal(json.server.mode, 'single')
      assert.equal(json.processes.length, 1)
      assert.equal(json.processes[0].pid, process.pid)
      const route = json.routes.find((r) => r.route === 'GET /whoami')
      assert.equal(route?.count, 3)
      assert.deepEqual(route.results, { ok: 3 })

      const html = await srv.request('/server-status')
      assert.match(html.headers['content-type'], /^text\/html/)
      assert.match(html.text, /<td class="route">GET \/whoami<\/td>/)
      assert.equal(html.headers['cache-control'], 'no-store')

      const metrics = await srv.request('/metrics')
      assert.equal(metrics.status, 200)
      assert.match(metrics.headers['content-type'], /^text\/plain; version=0\.0\.4/)
      assert.match(metrics.text, /^fastify_mpm_threads\{.*\} \d+/m)
      assert.equal(await tasksOk() - tasksBefore, 3)
    })

    test('bytes: body bytes of every answer, with a Content-Length, chunked, offloaded, HEAD', async (t) => {
      const srv = await startExpress(express, { threads: 1 }, (app, mpm) => {
        app.get('/big', (req, res) => { res.send('x'.repeat(BIG)) })
        app.get('/chunked', (req, res) => {
          for (let i = 0; i < CHUNKS - 1; i++) res.write(Buffer.alloc(CHUNK, 'y'))
          res.end('y'.repeat(CHUNK))
        })
        app.get('/offloaded', mpm.offload(faults, { export: 'whoami' }))
        app.get('/server-status', mpm.status())
      })
      t.after(() => srv.close())
      await checkByteCounts(srv)
    })

    test('allow: 127.0.0.1 by default; 127.0.0.2 gets 403 and learns nothing; an explicit list lets it in', async (t) => {
      const srv = await startExpress(express, { threads: 1 }, (app, mpm) => {
        app.get('/server-status', mpm.status())
        app.get('/metrics', mpm.metrics())
        app.get('/open-status', mpm.status({ allow: ['127.0.0.0/8'] }))
      })
      t.after(() => srv.close())
      for (const path of ['/server-status', '/server-status?json', '/server-status?auto', '/metrics']) {
        assert.equal((await srv.request(path)).status, 200, path)
        const denied = await send(srv.url + path, { dispatcher: fromOther, headers: { 'x-forwarded-for': '127.0.0.1' } })
        assert.equal(denied.status, 403, path)
        assert.doesNotMatch(denied.text, /pid|scoreboard|fastify_mpm/i)
      }
      assert.equal((await send(srv.url + '/open-status?json', { dispatcher: fromOther })).status, 200)
    })

    test('readiness: 200 while taking work, 503 when every thread is busy and there is no queue, 200 again', async (t) => {
      const dir = tempDir()
      const gate = dir.gate()
      const srv = await startExpress(express, { threads: 1, maxQueue: 0 }, (app, mpm) => {
        app.get('/gated', mpm.offload(faults, { export: 'gated' }))
        app.get('/ready', mpm.readiness())
      })
      t.after(async () => { gate.open(); await srv.close(); dir.remove() })
      assert.equal((await srv.request('/ready')).status, 200)
      const held = srv.request(`/gated?gate=${encodeURIComponent(gate.path)}`)
      await waitFor(() => srv.mpm.stats().busy === 1, { what: 'the only thread busy' })
      const busy = await srv.request('/ready')
      assert.equal(busy.status, 503)
      assert.match(busy.text, /saturated/)
      gate.open()
      assert.equal((await held).status, 200)
      assert.equal((await srv.request('/ready')).status, 200)
    })
  })
}
