// Express: an object answer serialized once, in the thread (issue 21, point 2), where res.json()
// would send JSON.stringify() of it: the same bytes as inline res.json(), and not where the app
// set `json spaces`/`json replacer`/`json escape` or a middleware wrapped res.json (an envelope).
// json-realm.js shows where the text was made. Express 5 and 4.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import * as answers from '../fixtures/handlers/json-answers.js'
import stamped from '../fixtures/handlers/json-realm.js'
import { fixture } from '../helpers/app.js'
import { EXPRESSES, startExpress } from './helpers.js'

const ANSWERS = fixture('json-answers.js')
const REALM = fixture('json-realm.js')
// Handlers that make no reply calls and return what res.json() serializes (a BigInt or a cycle
// fails inline in Express's own error page, which the thread does not change: they go the usual way).
const PLAIN = ['records', 'object', 'emptyObject', 'emptyArray', 'nullPrototype', 'sparse', 'loneSurrogate', 'ownSendFields', 'ownToJSON', 'nestedToJSON', 'getter', 'classInstance', 'proxied', 'typedArray', 'deep']
const IN_THREAD = '"at":"serialized in a thread"'
const ISO = '"at":"1970-01-01T00:00:00.000Z"'
const IGNORED_HEADERS = new Set(['date', 'connection', 'keep-alive', 'etag'])

function comparable (res) {
  const headers = {}
  for (const [name, value] of Object.entries(res.headers)) if (!IGNORED_HEADERS.has(name)) headers[name] = value
  return { status: res.status, headers, body: res.text }
}

for (const [name, express] of EXPRESSES) {
  describe(`${name}: object answers serialized in the thread`, { timeout: 60_000 }, () => {
    test('made in the thread under default settings; on the main thread under json spaces or a wrapped res.json, as inline', async (t) => {
      const srv = await startExpress(express, { threads: 1 }, (app, mpm) => {
        app.get('/off/plain', mpm.offload(REALM))
        app.get('/in/plain', (req, res) => { res.json(stamped()) })
        const spaced = express()
        spaced.set('json spaces', 2)
        spaced.get('/off', mpm.offload(REALM))
        spaced.get('/in', (req, res) => { res.json(stamped()) })
        app.use('/spaced', spaced)
        const wrapped = express.Router()
        wrapped.use((req, res, next) => {
          const json = res.json
          res.json = (body) => json.call(res, { data: body })
          next()
        })
        wrapped.get('/off', mpm.offload(REALM))
        wrapped.get('/in', (req, res) => { res.json(stamped()) })
        app.use('/wrapped', wrapped)
      })
      t.after(() => srv.close())
      const plain = await srv.request('/off/plain')
      assert.equal(plain.text, `{${IN_THREAD},"list":[1,2]}`)
      assert.equal(plain.headers['content-type'], 'application/json; charset=utf-8')
      assert.equal((await srv.request('/in/plain')).text, `{${ISO},"list":[1,2]}`)
      for (const setUp of ['spaced', 'wrapped']) {
        const off = comparable(await srv.request(`/${setUp}/off`))
        assert.ok(!off.body.includes(IN_THREAD), `${setUp}: not serialized in the thread (${off.body})`)
        assert.deepEqual(off, comparable(await srv.request(`/${setUp}/in`)), `${setUp}: as inline`)
      }
      assert.match((await srv.request('/wrapped/off')).text, /^\{"data":\{/)
      assert.match((await srv.request('/spaced/off')).text, /^\{\n {2}"at"/)
    })

    test('the same status, headers and bytes as inline res.json() for every kind of value', async (t) => {
      const srv = await startExpress(express, { threads: 2 }, (app, mpm) => {
        for (const handler of PLAIN) {
          app.get(`/off/${handler}`, mpm.offload(ANSWERS, { export: handler }))
          app.get(`/in/${handler}`, (req, res) => { res.json(answers[handler](req)) })
        }
      })
      t.after(() => srv.close())
      const differences = []
      for (const handler of PLAIN) {
        for (const query of handler === 'records' ? ['', '?n=1000'] : handler === 'deep' ? ['?depth=900', '?depth=1500'] : ['']) {
          const inline = comparable(await srv.request(`/in/${handler}${query}`))
          const off = comparable(await srv.request(`/off/${handler}${query}`))
          try {
            assert.deepEqual(off, inline)
          } catch {
            differences.push(`${handler}${query}:\n  inline:    ${JSON.stringify(inline).slice(0, 300)}\n  offloaded: ${JSON.stringify(off).slice(0, 300)}`)
          }
        }
      }
      assert.equal(differences.length, 0, `${differences.length} answers differ:\n${differences.join('\n')}`)
      assert.equal(srv.mpm.stats().crashed, 0)
    })
  })
}
