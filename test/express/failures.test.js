// The Express adapter when things go wrong, on Express 5 and 4: 503s with Retry-After (queue full,
// task timeout, queue timeout, closing) on the response and in err.headers whichever handler
// answers, a thread that exits, a queued task whose client left, mpm.close(), and startup checks.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { createMpm } from 'fastify-mpm/express'
import { pino } from 'pino'
import { Agent } from 'undici'
import { fixture, send } from '../helpers/app.js'
import { captureLogs } from '../helpers/logs.js'
import { tempDir, waitFor, withDeadline } from '../helpers/util.js'
import { EXPRESSES, startExpress } from './helpers.js'

const faults = fixture('faults.js')
const q = (s) => encodeURIComponent(s)

/** Mounts `routes` twice: under /h with an error middleware that reports what next(err) got, under /d with none. */
function twice (express, routes) {
  return (app, mpm) => {
    const handled = express.Router()
    routes(handled, mpm)
    handled.use((err, req, res, next) => {
      res.status(err.status).json({ code: err.code, status: err.status, statusCode: err.statusCode, headers: err.headers ?? null })
    })
    app.use('/h', handled)
    const bare = express.Router()
    routes(bare, mpm)
    app.use('/d', bare)
  }
}

for (const [name, express] of EXPRESSES) {
  describe(`${name}: failures`, { timeout: 60_000 }, () => {
    test('queue full (maxQueue 0, thread busy): 503 + Retry-After from the error middleware and from the default handler', async (t) => {
      const dir = tempDir()
      const gate = dir.gate()
      const srv = await startExpress(express, { threads: 1, maxQueue: 0, retryAfter: 7 }, twice(express, (router, mpm) => {
        router.get('/gated', mpm.offload(faults, { export: 'gated' }))
      }))
      t.after(async () => { gate.open(); await srv.close(); dir.remove() })
      const held = srv.request(`/h/gated?gate=${q(gate.path)}`)
      await waitFor(() => srv.mpm.stats().busy === 1, { what: 'the only thread busy' })

      const handled = await srv.request('/h/gated')
      assert.equal(handled.status, 503)
      assert.equal(handled.headers['retry-after'], '7')
      assert.deepEqual(handled.json(), { code: 'FST_MPM_QUEUE_FULL', status: 503, statusCode: 503, headers: { 'retry-after': '7' } })
      const dflt = await srv.request('/d/gated')
      assert.equal(dflt.status, 503)
      assert.equal(dflt.headers['retry-after'], '7')
      assert.equal(srv.mpm.stats().rejected, 2)

      gate.open()
      assert.equal((await held).status, 200)
    })

    test('taskTimeout and queueTimeout: 503 + Retry-After; the pool keeps serving', async (t) => {
      const dir = tempDir()
      const gate = dir.gate()
      const srv = await startExpress(express, { threads: 1, queueTimeout: 200, taskTimeout: 10_000, retryAfter: 3 }, twice(express, (router, mpm) => {
        router.get('/spin', mpm.offload(faults, { export: 'spin', timeout: 200 }))
        router.get('/gated', mpm.offload(faults, { export: 'gated' }))
        router.get('/whoami', mpm.offload(faults, { export: 'whoami' }))
      }))
      t.after(async () => { gate.open(); await srv.close(); dir.remove() })

      const timedOut = await srv.request('/h/spin')
      assert.equal(timedOut.status, 503)
      assert.equal(timedOut.headers['retry-after'], '3')
      assert.equal(timedOut.json().code, 'FST_MPM_TASK_TIMEOUT')
      assert.deepEqual(timedOut.json().headers, { 'retry-after': '3' })
      const dflt = await srv.request('/d/spin')
      assert.equal(dflt.status, 503)
      assert.equal(dflt.headers['retry-after'], '3')
      assert.equal(srv.mpm.stats().timedOut, 2)

      const held = srv.request(`/h/gated?gate=${q(gate.path)}`)
      await waitFor(() => srv.mpm.stats().busy === 1, { what: 'the only thread busy' })
      const waited = await srv.request('/h/whoami')
      assert.equal(waited.status, 503)
      assert.equal(waited.json().code, 'FST_MPM_QUEUE_TIMEOUT')
      assert.equal(waited.headers['retry-after'], '3')
      gate.open()
      assert.equal((await held).status, 200)
      assert.equal((await srv.request('/h/whoami')).status, 200)
    })

    test('process.exit() in a handler: 500 to next(err), logged with the route; the pool heals', async (t) => {
      const srv = await startExpress(express, { threads: 2 }, twice(express, (router, mpm) => {
        router.get('/exit', mpm.offload(faults, { export: 'exit' }))
        router.get('/whoami', mpm.offload(faults, { export: 'whoami' }))
      }))
      t.after(() => srv.close())
      const died = await srv.request('/h/exit')
      assert.equal(died.status, 500)
      assert.equal(died.json().code, 'FST_MPM_THREAD_EXITED')
      assert.equal((await srv.request('/d/exit')).status, 500)
      const line = await srv.logs.waitFor((l) => l.level >= 50 && l.err?.code === 'FST_MPM_THREAD_EXITED')
      assert.equal(line.offload.route, 'GET /h/exit')
      await waitFor(() => srv.mpm.stats().threads === 2, { what: 'the dead threads replaced' })
      const after = await Promise.all(Array.from({ length: 4 }, () => srv.request('/h/whoami')))
      for (const res of after) assert.equal(res.status, 200)
      assert.ok(srv.mpm.stats().threadExits >= 2)
    })

    test('a client that disconnects while its task is queued: the task is dropped unrun', async (t) => {
      const dir = tempDir()
      const gate = dir.gate()
      const mark = dir.file('ran.txt')
      const errors = []
      const logs = captureLogs()
      const srv = await startExpress(express, { threads: 1, maxQueue: 10, logger: pino({ level: 'debug' }, logs.stream) }, (app, mpm) => {
        app.get('/gated', mpm.offload(faults, { export: 'gated' }))
        app.use((err, req, res, next) => { errors.push(err); next(err) })
      })
      t.after(async () => { gate.open(); await srv.close(); dir.remove() })
      const first = srv.request(`/gated?gate=${q(gate.path)}&mark=${q(mark)}`)
      await waitFor(() => srv.mpm.stats().busy === 1, { what: 'first task running' })
      const leaver = connect(new URL(srv.url).port, '127.0.0.1')
      await new Promise((resolve) => leaver.once('connect', resolve))
      leaver.write(`GET /gated?mark=${q(mark)}&who=leaver HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
      await waitFor(() => srv.mpm.stats().queued === 1, { what: 'a task queued' })
      leaver.destroy()
      await waitFor(() => srv.mpm.stats().dropped === 1, { what: 'the queued task dropped' })
      // A client leaving is no server fault: a debug line without a stack, no next(err).
      const line = await logs.waitFor((l) => /client went away/.test(l.msg ?? '') || l.err?.code === 'FST_MPM_TASK_DROPPED')
      assert.equal(line.level, 20, JSON.stringify(line))
      assert.equal(line.err, undefined, 'no error object, so no stack')
      assert.equal(line.offload.route, 'GET /gated')
      assert.deepEqual(logs.filter((l) => l.level >= 50), [])
      gate.open()
      assert.equal((await first).status, 200)
      assert.equal(dir.read('ran.txt').trim().split('\n').length, 1, 'only the first request ran its handler')
      assert.equal(srv.mpm.stats().completed, 1)
      assert.deepEqual(errors, [], 'the app\'s error middleware heard of no error')
    })

    test('mpm.close(): the task in flight finishes, new work gets 503 + Retry-After, keep-alive connections end', async (t) => {
      const dir = tempDir()
      const gate = dir.gate()
      let lateArrived = false
      const seen = []
      const srv = await startExpress(express, { threads: 1, retryAfter: 2, closeTimeout: 20_000 }, (app, mpm) => {
        app.get('/gated', mpm.offload(faults, { export: 'gated' }))
        app.get('/whoami', mpm.offload(faults, { export: 'whoami' }))
        // Past routing before close starts, at its offloaded handler once close has begun (its
        // busy connection is not closed as idle by server.close()).
        app.get('/late', (req, res, next) => {
          lateArrived = true
          waitFor(() => mpm.core.pool.closing, { what: 'close to start' }).then(() => next(), next)
        }, mpm.offload(faults, { export: 'whoami' }))
        app.use((err, req, res, next) => { seen.push(err); next(err) })
      })
      const agent = new Agent({ keepAliveTimeout: 60_000, keepAliveMaxTimeout: 120_000, connections: 4 })
      t.after(async () => { gate.open(); await agent.destroy().catch(() => {}); await srv.close(); dir.remove() })
      const req = (path) => send(srv.url + path, { dispatcher: agent })
      for (const res of await Promise.all([req('/whoami'), req('/whoami')])) assert.notEqual(res.headers.connection, 'close')

      const inflight = req(`/gated?gate=${q(gate.path)}`)
      const late = req('/late')
      await waitFor(() => srv.mpm.stats().busy === 1 && lateArrived, { what: 'a task running, a request in middleware' })
      srv.server.close()
      const closing = srv.mpm.close()
      // New work is refused, and its keep-alive connection ended.
      const refused = await withDeadline(late, 5000, 'the late request')
      assert.equal(refused.status, 503)
      assert.equal(refused.headers['retry-after'], '2')
      assert.equal(refused.headers.connection, 'close')
      assert.deepEqual(seen.map((err) => [err.code, err.status, err.headers]), [['FST_MPM_CLOSING', 503, { 'retry-after': '2' }]])
      gate.open()
      const done = await withDeadline(inflight, 10_000, 'the request in flight')
      assert.equal(done.status, 200)
      assert.equal(done.headers.connection, 'close')
      await withDeadline(closing, 10_000, 'mpm.close()')
      await withDeadline(new Promise((resolve) => srv.server.close(resolve)), 5_000, 'server.close() with no connection left')
    })

    test('startup: bad options throw from createMpm naming the option; a missing module or export rejects ready()', async () => {
      for (const [options, named] of [[{ threads: 'lots' }, 'threads'], [{ maxQueue: -1 }, 'maxQueue'], [{ bogus: 1 }, 'bogus'], [{ logger: {} }, 'logger'], [{ slowTaskThreshold: 'x' }, 'slowTaskThreshold']]) {
        assert.throws(() => createMpm(options), (err) => {
          assert.equal(err.code, 'FST_MPM_INVALID_OPTION')
          assert.match(err.message, new RegExp(`"${named}"`))
          return true
        })
      }
      const missingFile = createMpm({ threads: 1, logger: silent() })
      const app = express()
      app.get('/a', missingFile.offload(fixture('does-not-exist.js')))
      await assert.rejects(missingFile.ready(), (err) => {
        assert.equal(err.code, 'FST_MPM_HANDLER_MODULE')
        // No route is known before a request: the handler is named by its file and export.
        assert.match(err.message, /^fastify-mpm: does-not-exist\.js#default: cannot load handler module file:\/\/\S+\/does-not-exist\.js: /)
        return true
      })
      await missingFile.close()
      const missingExport = createMpm({ threads: 1, logger: silent() })
      app.get('/b', missingExport.offload(faults, { export: 'nope' }))
      await assert.rejects(missingExport.ready(), (err) => {
        assert.equal(err.code, 'FST_MPM_HANDLER_EXPORT')
        assert.match(err.message, /^fastify-mpm: faults\.js#nope: module file:\/\/\S+\/faults\.js has no exported function "nope"/)
        assert.doesNotMatch(err.message, / of file:/)
        return true
      })
      await missingExport.close()
    })
  })
}

function silent () {
  const log = { child: () => log }
  for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal']) log[level] = () => {}
  return log
}
