// Errors thrown in a thread, values that cannot cross threads, and log lines from threads.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { offload } from 'fastify-mpm'
import { fixture, startApp } from '../helpers/app.js'
import * as errorHandlers from '../fixtures/handlers/errors.js'

const errors = fixture('errors.js')

describe('errors and logs from threads', { timeout: 30_000 }, () => {
  let srv
  before(async () => {
    srv = await startApp({ threads: 1, taskTimeout: 5000 }, async (app) => {
      app.get('/teapot', offload(errors, { export: 'teapot' }))
      app.get('/rejects', offload(errors, { export: 'rejects' }))
      app.get('/string', offload(errors, { export: 'throwsString' }))
      app.get('/conflict', offload(errors, { export: 'setsCodeThenThrows' }))
      app.get('/fn', offload(errors, { export: 'returnsFunction' }))
      app.get('/class', offload(errors, { export: 'returnsClass' }))
      app.get('/logs', offload(errors, { export: 'logs' }))
      app.get('/header-fn', offload(errors, { export: 'headerFunction' }))
      app.get('/code-fn', offload(errors, { export: 'codeFunction' }))
      app.get('/status-symbol', offload(errors, { export: 'statusSymbol' }))
      for (const name of ['headerFunction', 'codeFunction', 'statusSymbol']) app.get(`/inline/${name}`, errorHandlers[name])
      app.get('/proxy', offload(errors, { export: 'returnsProxy' }))
      app.get('/whoami', offload(errors, { export: 'whoami' }))
      await app.register(async (scope) => {
        scope.setErrorHandler((err, req, reply) => {
          reply.code(err.statusCode ?? 500).send({
            custom: true, name: err.name, code: err.code, message: err.message, detail: err.detail, retryable: err.retryable
          })
        })
        scope.get('/scoped/teapot', offload(errors, { export: 'teapot' }))
        scope.get('/scoped/rejects', offload(errors, { export: 'rejects' }))
      })
    })
  })
  after(async () => { await srv?.close() })

  test('a thrown error keeps statusCode, code and message (default error handler)', async () => {
    const res = await srv.request('/teapot')
    assert.equal(res.status, 418)
    const body = res.json()
    assert.equal(body.code, 'E_TEAPOT')
    assert.equal(body.message, 'I am a teapot')
  })

  test('custom properties and the name reach setErrorHandler', async () => {
    const res = await srv.request('/scoped/teapot')
    assert.equal(res.status, 418)
    assert.deepEqual(res.json(), {
      custom: true, name: 'TeapotError', code: 'E_TEAPOT', message: 'I am a teapot', detail: { brewing: true, cups: 2 }
    })
    const rejected = await srv.request('/scoped/rejects')
    assert.equal(rejected.status, 500)
    assert.equal(rejected.json().code, 'E_DB')
    assert.equal(rejected.json().retryable, false)
  })

  test('a rejected async handler gives 500 and is logged with route and module', async () => {
    const res = await srv.request('/rejects')
    assert.equal(res.status, 500)
    assert.equal(res.json().message, 'database exploded')
    assert.equal(res.json().code, 'E_DB')
    const line = await srv.logs.waitFor((l) => l.level >= 50 && l.err?.message === 'database exploded')
    assert.deepEqual(line.offload, { route: 'GET /rejects', module: errors.href, export: 'rejects' })
    assert.equal(line.err.code, 'E_DB')
    // The context is for logs: an error handler that spreads the error must not see it.
    assert.equal(line.err.offload, undefined)
    assert.equal(typeof line.reqId, 'string')
  })

  test('a 4xx error is not logged as an error', async () => {
    const res = await srv.request('/teapot')
    assert.equal(res.status, 418)
    await new Promise((resolve) => setTimeout(resolve, 20))
    assert.equal(srv.logs.find((l) => l.level >= 50 && l.err?.message === 'I am a teapot'), undefined)
  })

  test('a thrown string reaches Fastify as the string itself, as inline', async () => {
    const res = await srv.request('/string')
    assert.equal(res.status, 500)
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8')
    assert.equal(res.text, 'a bare string')
  })

  test('headers set before throwing are kept with the error status', async () => {
    const res = await srv.request('/conflict')
    assert.equal(res.status, 409)
    assert.equal(res.json().message, 'conflict')
    assert.equal(res.headers['x-before-throw'], 'yes')
  })

  test('functions and class instances in a result are serialized as JSON.stringify would, as inline', async () => {
    const before = (await srv.request('/whoami')).json().threadId
    const fn = await srv.request('/fn')
    assert.equal(fn.status, 200)
    assert.deepEqual(fn.json(), { ok: true })
    const cls = await srv.request('/class')
    assert.equal(cls.status, 200)
    assert.deepEqual(cls.json(), { points: [{ x: 3, y: 4 }] })
    const proxy = await srv.request('/proxy')
    assert.equal(proxy.status, 200)
    assert.deepEqual(proxy.json(), { a: 1, b: 2 })
    assert.equal((await srv.request('/whoami')).json().threadId, before, 'the same thread keeps serving')
    assert.equal(srv.app.mpm.stats().crashed, 0)
  })

  // Issue 16: what does not cross as it is (a function as a header value, an error's code that is
  // a function, a statusCode that is a symbol) is replayed with a stand-in, so it answers as inline.
  for (const [path, name] of [['/header-fn', 'headerFunction'], ['/code-fn', 'codeFunction'], ['/status-symbol', 'statusSymbol']]) {
    test(`${path}: a value that cannot cross as it is answers as inline; no crash, same thread`, async () => {
      const before = (await srv.request('/whoami')).json().threadId
      const res = await srv.request(path)
      const inline = await srv.request(`/inline/${name}`)
      assert.equal(res.status, inline.status)
      assert.equal(res.headers['x-callback'], inline.headers['x-callback'])
      assert.equal(res.text, inline.text)
      assert.equal((await srv.request('/whoami')).json().threadId, before, 'the same thread keeps serving')
      const stats = srv.app.mpm.stats()
      assert.equal(stats.crashed, 0)
      assert.equal(stats.threadExits, 0)
    })
  }

  test('req.log lines from the thread reach the app logger with the request reqId', async () => {
    const res = await srv.request('/logs')
    assert.equal(res.status, 200)
    const { id, threadId } = res.json()
    const info = await srv.logs.waitFor((l) => l.msg === 'hello from a thread')
    assert.equal(info.reqId, id)
    assert.equal(info.level, 30)
    assert.equal(info.tag, 'from-thread')
    assert.equal(info.threadId, threadId)
    const child = await srv.logs.waitFor((l) => l.msg === 'child line')
    assert.equal(child.reqId, id)
    assert.equal(child.level, 40)
    assert.equal(child.part, 'child')
    // below the logger's level: never sent
    await new Promise((resolve) => setTimeout(resolve, 30))
    assert.equal(srv.logs.find((l) => l.msg === 'debug line dropped at info level'), undefined)
  })
})
