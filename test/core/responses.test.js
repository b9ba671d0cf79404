// What an offloaded route sends back, and how it composes with the rest of Fastify.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { threadId as mainThreadId } from 'node:worker_threads'
import { offload } from 'fastify-mpm'
import { fixture, startApp } from '../helpers/app.js'

const responses = fixture('responses.js')
const errors = fixture('errors.js')

describe('offloaded routes: responses', { timeout: 30_000 }, () => {
  let srv
  before(async () => {
    srv = await startApp({ threads: 2, taskTimeout: 5000 }, (app) => {
      app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (req, body, done) => done(null, body))
      app.get('/json', offload(responses))
      app.get('/text', offload(responses, { export: 'text' }))
      app.get('/bytes', offload(responses, { export: 'bytes' }))
      app.get('/uint8', offload(responses, { export: 'uint8' }))
      app.get('/empty', offload(responses, { export: 'empty' }))
      app.get('/null', offload(responses, { export: 'nothing' }))
      app.get('/no-content', offload(responses, { export: 'noContent' }))
      app.get('/reply-api', offload(responses, { export: 'replyApi' }))
      app.all('/echo/:a/:b', offload(responses, { export: 'echo' }))
      app.post('/body-bytes', offload(responses, { export: 'bodyBytes' }))
      app.get('/async', offload(responses, { export: 'asyncTimers' }))
      app.get('/typed/:n', offload(fixture('typed.ts')))
      app.get('/inline', async () => ({ threadId: mainThreadId }))
      app.get('/shape/:a', offload(responses, { export: 'requestShape' }))
    })
  })
  after(async () => { await srv?.close() })

  // req.log and req.signal are made when first read (thread-request.ts): the request's own
  // fields stay exactly the copied ones, in a thread as with threads: 0.
  test('req: its own fields are the request copy; log and signal are there when read, the same each time', async () => {
    const inline = await startApp({ threads: 0 }, (app) => { app.get('/shape/:a', offload(responses, { export: 'requestShape' })) })
    try {
      const fields = ['id', 'method', 'url', 'params', 'query', 'headers', 'body', 'ip', 'hostname']
      for (const server of [srv, inline]) {
        const res = await server.request('/shape/x?q=1')
        assert.equal(res.status, 200)
        const shape = res.json()
        assert.deepEqual(shape.own, fields)
        assert.deepEqual(shape.spread, fields)
        assert.deepEqual(shape.json, fields.filter((f) => f !== 'body'))
        assert.equal(shape.logLevels, true)
        assert.equal(shape.stable, true, 'req.log is one logger, made once')
        assert.equal(shape.replaced, true, 'a handler may put its own logger in place of req.log')
        assert.equal(shape.signal, true)
        assert.equal(shape.signalOwn, false)
      }
    } finally {
      await inline.close()
    }
  })

  test('the handler runs in another thread, not on the main one', async () => {
    const res = await srv.request('/json')
    assert.equal(res.status, 200)
    const body = res.json()
    assert.equal(body.hello, 'world')
    assert.equal(mainThreadId, 0)
    assert.notEqual(body.threadId, 0, 'offloaded handler must not run on the main thread')
    assert.equal((await srv.request('/inline')).json().threadId, 0)
  })

  test('an object is sent as JSON', async () => {
    const res = await srv.request('/json')
    assert.match(res.headers['content-type'], /^application\/json/)
    assert.deepEqual(Object.keys(res.json()).sort(), ['hello', 'threadId'])
  })

  test('a string is sent as text', async () => {
    const res = await srv.request('/text')
    assert.equal(res.status, 200)
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8')
    assert.equal(res.text, 'plain text from a thread')
  })

  test('a Buffer is sent as bytes, exactly', async () => {
    const res = await srv.request('/bytes')
    assert.equal(res.status, 200)
    assert.equal(res.headers['content-type'], 'application/octet-stream')
    assert.equal(res.body.length, 70_000)
    for (let i = 0; i < res.body.length; i++) {
      if (res.body[i] !== i % 251) assert.fail(`byte ${i} is ${res.body[i]}, expected ${i % 251}`)
    }
    // A small Buffer is a view into Node's shared pool: it must be copied, not moved, intact.
    const slice = await srv.request('/bytes?kind=slice')
    assert.equal(slice.headers['content-type'], 'application/octet-stream')
    assert.deepEqual([...slice.body], [1, 2, 3, 250, 251])
    const u8 = await srv.request('/uint8')
    assert.equal(u8.headers['content-type'], 'application/octet-stream')
    assert.deepEqual([...u8.body], [9, 8, 7])
  })

  test('undefined gives 200 with an empty body, null the JSON null (as Fastify 5 inline)', async () => {
    const empty = await srv.request('/empty')
    assert.equal(empty.status, 200)
    assert.equal(empty.body.length, 0)
    const nil = await srv.request('/null')
    assert.equal(nil.status, 200)
    assert.match(nil.headers['content-type'], /^application\/json/)
    assert.equal(nil.text, 'null')
  })

  test('reply.code(204) with no return value gives 204', async () => {
    const res = await srv.request('/no-content')
    assert.equal(res.status, 204)
    assert.equal(res.body.length, 0)
  })

  test('reply.code/status, header, headers and type are applied', async () => {
    const res = await srv.request('/reply-api')
    assert.equal(res.status, 201)
    assert.equal(res.headers['x-one'], '1')
    assert.equal(res.headers['x-two'], 'two')
    assert.equal(res.headers['x-three'], '3')
    assert.match(res.headers['content-type'], /^application\/vnd\.test\+json/)
    assert.deepEqual(res.json(), { seen: '1', statusCode: 201 })
  })

  test('request fields arrive in the thread as plain data', async () => {
    const res = await srv.request('/echo/one/two?x=1&y=a&y=b', {
      headers: { 'x-custom': 'custom-value' }
    })
    assert.equal(res.status, 200)
    const seen = res.json()
    assert.notEqual(seen.threadId, 0)
    assert.equal(seen.method, 'GET')
    assert.equal(seen.url, '/echo/one/two?x=1&y=a&y=b')
    assert.deepEqual(seen.params, { a: 'one', b: 'two' })
    assert.deepEqual(seen.query, { x: '1', y: ['a', 'b'] })
    assert.equal(seen.headers['x-custom'], 'custom-value')
    assert.equal(seen.ip, '127.0.0.1')
    assert.equal(seen.hostname, '127.0.0.1')
    assert.equal(typeof seen.id, 'string')
    assert.ok(seen.id.length > 0)
    assert.equal(seen.hasLog, true)
  })

  test('a JSON POST body arrives parsed', async () => {
    const payload = { name: 'ada', tags: ['x', 'y'], nested: { n: 1.5, ok: true, none: null } }
    const res = await srv.request('/echo/p/q', { json: payload })
    assert.equal(res.status, 200)
    const seen = res.json()
    assert.equal(seen.method, 'POST')
    assert.deepEqual(seen.body, payload)
    assert.equal(seen.headers['content-type'], 'application/json')
  })

  test('request ids in the thread are distinct per request', async () => {
    const [a, b] = await Promise.all([srv.request('/echo/1/2'), srv.request('/echo/1/2')])
    assert.notEqual(a.json().id, b.json().id)
  })

  test('a binary body arrives in the thread as a Buffer', async () => {
    const res = await srv.request('/body-bytes', {
      method: 'POST', body: Buffer.from([200, 1, 2, 3]), headers: { 'content-type': 'application/octet-stream' }
    })
    assert.equal(res.status, 200)
    assert.deepEqual(res.json(), { isBuffer: true, length: 4, first: 200 })
  })

  test('async handlers awaiting timers and immediates work', async () => {
    const res = await srv.request('/async?ms=15')
    assert.equal(res.status, 200)
    const body = res.json()
    assert.equal(body.waited, 15)
    assert.equal(body.later, 'immediate ran')
    assert.notEqual(body.threadId, 0)
  })

  test('a TypeScript handler module works while the test process runs plain node', async () => {
    assert.equal(process.execArgv.some((a) => a.includes('tsx')), false)
    const res = await srv.request('/typed/21')
    assert.equal(res.status, 200)
    assert.equal(res.headers['x-handler'], 'typescript')
    assert.deepEqual({ ...res.json(), threadId: undefined }, { n: 21, doubled: 42, lang: 'ts', threadId: undefined })
    assert.notEqual(res.json().threadId, 0)
  })
})

describe('offloaded routes compose with Fastify', { timeout: 30_000 }, () => {
  let srv
  before(async () => {
    srv = await startApp({ threads: 1, taskTimeout: 5000 }, async (app) => {
      app.get('/schema', {
        schema: {
          response: {
            200: { type: 'object', properties: { id: { type: 'integer' }, name: { type: 'string' } } }
          }
        }
      }, offload(responses, { export: 'withExtra' }))

      app.get('/validated/:n', {
        schema: { params: { type: 'object', properties: { n: { type: 'integer', maximum: 100 } }, required: ['n'] } }
      }, offload(responses, { export: 'echo' }))

      app.post('/validated-body', {
        schema: { body: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] } }
      }, offload(responses, { export: 'echo' }))

      await app.register(async (scope) => {
        scope.addHook('onRequest', async (req, reply) => { reply.header('x-on-request', 'ran') })
        scope.addHook('preHandler', async (req, reply) => {
          if (req.headers.authorization !== 'yes') {
            throw Object.assign(new Error('not allowed'), { statusCode: 401 })
          }
          req.headers['x-added-by-prehandler'] = 'added'
        })
        scope.setErrorHandler((err, req, reply) => {
          reply.code(err.statusCode ?? 500).send({ handledBy: 'custom', code: err.code, message: err.message, detail: err.detail })
        })
        scope.get('/hooked', offload(responses, { export: 'echo' }))
        scope.get('/hooked-error', offload(errors, { export: 'teapot' }))
      })
    })
  })
  after(async () => { await srv?.close() })

  test('a response schema serializes what the thread returns (extra property stripped)', async () => {
    const res = await srv.request('/schema')
    assert.equal(res.status, 200)
    assert.deepEqual(res.json(), { id: 7, name: 'seven' })
    assert.doesNotMatch(res.text, /must not leak/)
  })

  test('schema validation answers 400 without reaching the thread', async () => {
    const before = srv.app.mpm.stats()
    const bad = await srv.request('/validated/abc')
    assert.equal(bad.status, 400)
    assert.equal(bad.json().code, 'FST_ERR_VALIDATION')
    const badBody = await srv.request('/validated-body', { json: { n: 'nope' } })
    assert.equal(badBody.status, 400)
    const after = srv.app.mpm.stats()
    assert.equal(after.completed + after.failed, before.completed + before.failed, 'no task may have run')
    // and the coerced, validated value is what the thread sees
    const good = await srv.request('/validated/42')
    assert.equal(good.status, 200)
    assert.deepEqual(good.json().params, { n: 42 })
    assert.equal(srv.app.mpm.stats().completed, after.completed + 1)
  })

  test('onRequest and preHandler hooks run before the thread and can stop it', async () => {
    const before = srv.app.mpm.stats().completed
    const denied = await srv.request('/hooked')
    assert.equal(denied.status, 401)
    assert.equal(denied.headers['x-on-request'], 'ran')
    assert.equal(denied.json().handledBy, 'custom')
    assert.equal(srv.app.mpm.stats().completed, before, 'the thread must not run when preHandler rejects')

    const allowed = await srv.request('/hooked', { headers: { authorization: 'yes' } })
    assert.equal(allowed.status, 200)
    assert.equal(allowed.headers['x-on-request'], 'ran')
    assert.equal(allowed.json().headers['x-added-by-prehandler'], 'added', 'the thread sees what preHandler changed')
  })

  test('setErrorHandler receives errors thrown in the thread', async () => {
    const res = await srv.request('/hooked-error', { headers: { authorization: 'yes' } })
    assert.equal(res.status, 418)
    assert.deepEqual(res.json(), {
      handledBy: 'custom', code: 'E_TEAPOT', message: 'I am a teapot', detail: { brewing: true, cups: 2 }
    })
  })
})
