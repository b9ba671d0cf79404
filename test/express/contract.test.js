// The Express adapter's contract for requests and replies, on Express 5 and 4 over real HTTP: the
// plain req a handler sees, reply calls mapped onto res, content types, HEAD, a response already
// sent by someone else, errors reaching the app's error middleware (once) or Express's default
// handler, and req.log lines reaching the app's logger with the request id.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { fixture } from '../helpers/app.js'
import { EXPRESSES, startExpress } from './helpers.js'

const corpus = fixture('corpus.js')
const faults = fixture('faults.js')

for (const [name, express] of EXPRESSES) {
  describe(`${name}: requests and replies`, { timeout: 60_000 }, () => {
    test('params, query, headers, JSON body, ip (trust proxy), hostname and X-Request-Id reach the thread', async (t) => {
      const srv = await startExpress(express, { threads: 1 }, (app, mpm) => {
        app.set('trust proxy', 'loopback')
        app.post('/json/:a/:b', express.json(), mpm.offload(corpus, { export: 'echo' }))
        app.post('/raw/:a', mpm.offload(corpus, { export: 'echo' }))
      })
      t.after(() => srv.close())
      const res = await srv.request('/json/one/two%20words?x=1&y=%C3%A9', {
        json: { list: [1, { n: null }], s: 'ż' },
        headers: { 'x-request-id': 'trace-42', 'x-custom': 'yes', 'x-forwarded-for': '203.0.113.9', 'x-forwarded-host': 'api.example' }
      })
      assert.equal(res.status, 200)
      const seen = res.json()
      assert.equal(seen.id, 'trace-42')
      assert.equal(seen.method, 'POST')
      assert.equal(seen.url, '/json/one/two%20words?x=1&y=%C3%A9')
      assert.deepEqual(seen.params, { a: 'one', b: 'two words' })
      assert.deepEqual(seen.query, { x: '1', y: 'é' })
      assert.equal(seen.headers['x-custom'], 'yes')
      assert.deepEqual(seen.body, { list: [1, { n: null }], s: 'ż' })
      assert.equal(seen.ip, '203.0.113.9')
      assert.equal(seen.hostname, 'api.example')

      // No body parser: req.body is undefined in the thread (JSON drops the key), the raw bytes unread.
      const raw = await srv.request('/raw/x', { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } })
      assert.equal(raw.status, 200)
      assert.equal('body' in raw.json(), false)
      assert.equal(raw.json().ip, '127.0.0.1')
      // Without X-Request-Id every request gets an id of its own.
      const [a, b] = await Promise.all([srv.request('/raw/a', { method: 'POST' }), srv.request('/raw/b', { method: 'POST' })])
      assert.match(a.json().id, /^req-/)
      assert.notEqual(a.json().id, b.json().id)
    })

    test('reply calls map onto res; strings are text/plain, bytes octet-stream, objects JSON, empty is empty', async (t) => {
      const srv = await startExpress(express, { threads: 1 }, (app, mpm) => {
        app.use('/hook', (req, res, next) => { res.set('x-hook', 'from-hook').append('set-cookie', 'h=0'); next() })
        for (const name of ['replyApi', 'string', 'emptyString', 'buffer', 'uint8', 'nothing', 'nullValue', 'noContent', 'setCookieTwice',
          'setCookieArray', 'headerKinds', 'textAsJson', 'object', 'codeAsString']) {
          app.get(`/${name}`, mpm.offload(corpus, { export: name }))
        }
        app.get('/hook/seesHookHeaders', mpm.offload(corpus, { export: 'seesHookHeaders' }))
        app.get('/hook/setCookieTwice', mpm.offload(corpus, { export: 'setCookieTwice' }))
      })
      t.after(() => srv.close())
      const get = (path) => srv.request(path)

      const api = await get('/replyApi')
      assert.equal(api.status, 201)
      assert.equal(api.headers['x-one'], '1')
      assert.equal(api.headers['x-two'], 'two')
      assert.equal(api.headers['x-three'], '3')
      assert.equal(api.headers['content-type'], 'application/vnd.test+json; charset=utf-8')
      assert.deepEqual(api.json(), { seen: '1', three: 3, statusCode: 201, has: true })

      const text = await get('/string')
      assert.equal(text.headers['content-type'], 'text/plain; charset=utf-8')
      assert.equal(text.text, 'plain text')
      const empty = await get('/emptyString')
      assert.equal(empty.headers['content-type'], 'text/plain; charset=utf-8')
      assert.equal(empty.text, '')
      const bytes = await get('/buffer')
      assert.equal(bytes.headers['content-type'], 'application/octet-stream')
      assert.deepEqual(bytes.body, Buffer.from('bytes \u00e9', 'utf8'))
      assert.deepEqual([...(await get('/uint8')).body], [9, 8, 7])
      for (const path of ['/nothing', '/nullValue']) {
        const res = await get(path)
        assert.equal(res.status, 200)
        assert.equal(res.body.length, 0)
        assert.equal(res.headers['content-type'], undefined)
      }
      assert.equal((await get('/noContent')).status, 204)
      assert.equal((await get('/codeAsString')).status, 404)
      const json = await get('/object')
      assert.equal(json.headers['content-type'], 'application/json; charset=utf-8')
      assert.deepEqual(json.json(), { hello: 'world', n: 1.5, list: [1, 'two', null, true] })
      assert.equal((await get('/textAsJson')).text, '{"already":"json"}')

      assert.deepEqual((await get('/setCookieTwice')).headers['set-cookie'], ['a=1', 'b=2'])
      assert.deepEqual((await get('/setCookieArray')).headers['set-cookie'], ['a=1', 'b=2', 'c=3'])
      // Headers middleware set before the handler: visible to getHeader, and cookies accumulate.
      const hooked = await get('/hook/seesHookHeaders')
      assert.equal(hooked.json().hook, 'from-hook')
      assert.equal(hooked.json().has, true)
      assert.deepEqual((await get('/hook/setCookieTwice')).headers['set-cookie'], ['h=0', 'a=1', 'b=2'])
      const kinds = await get('/headerKinds')
      assert.equal(kinds.headers['x-number'], '7')
      assert.deepEqual(kinds.headers['x-list'], ['a', 'b'])
    })

    test('HEAD on an app.get route: headers, no body', async (t) => {
      const srv = await startExpress(express, { threads: 1 }, (app, mpm) => {
        app.get('/object', mpm.offload(corpus, { export: 'object' }))
      })
      t.after(() => srv.close())
      const get = await srv.request('/object')
      const head = await srv.request('/object', { method: 'HEAD' })
      assert.equal(head.status, 200)
      assert.equal(head.body.length, 0)
      assert.equal(head.headers['content-type'], 'application/json; charset=utf-8')
      assert.equal(head.headers['content-length'], get.headers['content-length'])
    })

    test('nothing is written when a middleware answered first (a timeout), and no error is raised', async (t) => {
      const errors = []
      const srv = await startExpress(express, { threads: 1 }, (app, mpm) => {
        app.get('/late',
          (req, res, next) => { setTimeout(() => { if (!res.headersSent) res.status(504).send('gateway gave up') }, 50); next() },
          mpm.offload(faults, { export: 'sleep' }))
        app.get('/late-throw',
          (req, res, next) => { res.status(202).send('answered early'); next() },
          mpm.offload(corpus, { export: 'thrown' }))
        app.use((err, req, res, next) => { errors.push({ path: req.path, sent: res.headersSent }); next(err) })
      })
      t.after(() => srv.close())
      const res = await srv.request('/late?ms=300')
      assert.equal(res.status, 504)
      assert.equal(res.text, 'gateway gave up')
      await sleep(500)
      assert.equal(srv.mpm.stats().completed, 1)
      assert.deepEqual(errors, [])
      // A failure after the answer still goes to next(err), which Express's default handler
      // resolves by closing the connection; the answer already sent stands.
      const early = await srv.request('/late-throw')
      assert.equal(early.status, 202)
      assert.equal(early.text, 'answered early')
      await sleep(100)
      assert.deepEqual(errors, [{ path: '/late-throw', sent: true }])
    })

    test('errors reach a 4-argument error middleware once, with status and statusCode; else the default handler', async (t) => {
      const calls = new Map()
      const srv = await startExpress(express, { threads: 1 }, (app, mpm) => {
        const handled = express.Router()
        for (const name of ['thrown', 'returnedError', 'thrownString', 'thrownObject', 'codeThenThrow', 'thrownWithHeaders', 'badCode']) {
          handled.get(`/${name}`, mpm.offload(corpus, { export: name }))
          app.get(`/default/${name}`, mpm.offload(corpus, { export: name }))
        }
        handled.use((err, req, res, next) => {
          calls.set(req.path, (calls.get(req.path) ?? 0) + 1)
          res.status(err.status).json({ message: err.message, status: err.status, statusCode: err.statusCode, isError: err instanceof Error, code: err.code, headers: err.headers })
        })
        app.use('/handled', handled)
      })
      t.after(() => srv.close())

      const teapot = await srv.request('/handled/thrown')
      assert.equal(teapot.status, 418)
      assert.deepEqual(teapot.json(), { message: 'I am a teapot', status: 418, statusCode: 418, isError: true, code: 'E_TEAPOT' })
      assert.equal((await srv.request('/handled/returnedError')).json().status, 418)
      const str = await srv.request('/handled/thrownString')
      assert.deepEqual(str.json(), { message: 'a bare string', status: 500, statusCode: 500, isError: true })
      assert.equal((await srv.request('/handled/thrownObject')).status, 404)
      const conflict = await srv.request('/handled/codeThenThrow')
      assert.equal(conflict.status, 409)
      assert.equal(conflict.headers['x-before'], 'yes')
      const slow = await srv.request('/handled/thrownWithHeaders')
      assert.equal(slow.status, 429)
      assert.deepEqual(slow.json().headers, { 'retry-after': '7' })
      assert.equal((await srv.request('/handled/badCode')).status, 500)
      await sleep(100)
      assert.deepEqual([...calls.values()], [1, 1, 1, 1, 1, 1, 1], `next(err) calls per route: ${JSON.stringify([...calls])}`)

      // No error middleware: finalhandler answers with err.status and sets err.headers.
      const dflt = await srv.request('/default/thrown')
      assert.equal(dflt.status, 418)
      assert.match(dflt.headers['content-type'], /^text\/html/)
      const dfltHeaders = await srv.request('/default/thrownWithHeaders')
      assert.equal(dfltHeaders.status, 429)
      assert.equal(dfltHeaders.headers['retry-after'], '7')
      assert.equal((await srv.request('/default/thrownObject')).status, 404)
      assert.equal((await srv.request('/default/thrownString')).status, 500)
    })

    test('req.log lines reach the supplied pino logger with the request id', async (t) => {
      const srv = await startExpress(express, { threads: 1 }, (app, mpm) => {
        app.get('/logs', mpm.offload(corpus, { export: 'logs' }))
      })
      t.after(() => srv.close())
      assert.equal((await srv.request('/logs', { headers: { 'x-request-id': 'from-the-edge' } })).text, 'logged')
      const line = await srv.logs.waitFor((l) => l.from === 'handler')
      assert.equal(line.msg, 'a line')
      assert.equal(line.reqId, 'from-the-edge')
      assert.equal(line.level, 30)
      // An id a client could abuse (too long, control characters) is replaced by one of ours.
      await srv.request('/logs', { headers: { 'x-request-id': 'x'.repeat(500) } })
      const second = await srv.logs.waitFor((l) => l.from === 'handler' && l.reqId !== 'from-the-edge')
      assert.match(second.reqId, /^req-/)
    })
  })
}
