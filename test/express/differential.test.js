// Express vs Fastify on one handler corpus: every export of test/fixtures/handlers/corpus.js is
// offloaded under the Express adapter (5 and 4) and under the Fastify plugin, with the same
// "hook" middleware and the same custom error handler, and the answers are compared over real
// HTTP. Where the frameworks' own conventions differ the difference is listed below, field by
// field, and asserted exactly: a new difference (or one that disappears) fails the test.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import mpm, { offload } from 'fastify-mpm'
import { Agent, request } from 'undici'
import * as corpus from '../fixtures/handlers/corpus.js'
import { gzipSync } from 'node:zlib'
import { EXPRESSES, startExpress } from './helpers.js'

const CORPUS = new URL('../fixtures/handlers/corpus.js', import.meta.url)
const BOUNDARY = new URL('../fixtures/handlers/boundary-corpus.js', import.meta.url)
const IGNORED_HEADERS = new Set(['date', 'connection', 'keep-alive'])
const ERROR_CASES = ['thrown', 'returnedError', 'thrownObject', 'thrownString', 'thrownUndefined', 'thrownNumber', 'codeThenThrow', 'withCause', 'badCode']
const HOOK_CASES = ['seesHookHeaders', 'removesHookHeader', 'setCookieTwice']

/** [label, method, path, { body?, headers? }] */
const CASES = [
  ...Object.keys(corpus).filter((name) => !['echo', 'bodyDepth', 'deep'].includes(name)).map((name) => [name, 'GET', `/c/${name}`]),
  ['deep 2,500', 'GET', '/c/deep?depth=2500'],
  ['echo GET with query and params', 'GET', '/c/echo/p1?x=1&y=%C3%A9'],
  ['echo POST JSON', 'POST', '/c/echo/p2', { body: JSON.stringify({ a: [1, { b: null }], s: 'ż' }), headers: { 'content-type': 'application/json', 'x-request-id': 'fixed-id' } }],
  ['echo POST text', 'POST', '/c/echo/p3', { body: 'some text', headers: { 'content-type': 'text/plain', 'x-request-id': 'fixed-id' } }],
  ['body nested 1,500 deep', 'POST', '/c/bodyDepth', { body: '{"a":'.repeat(1500) + '1' + '}'.repeat(1500), headers: { 'content-type': 'application/json' } }],
  ...HOOK_CASES.map((name) => [`hook: ${name}`, 'GET', `/hook/${name}`]),
  ...ERROR_CASES.map((name) => [`error handler: ${name}`, 'GET', `/eh/${name}`])
]

// Where Express's conventions are not Fastify's: each kind of difference, the cases that show it
// and the fields that differ. Asserted exactly, case by case.
const HTML_PAGE = ['body', 'content-length', 'content-security-policy', 'content-type', 'x-content-type-options']
const UNHANDLED_ERRORS = ['thrown', 'returnedError', 'returnedPlainError', 'thrownWithHeaders', 'thrownObject', 'thrownString',
  'thrownUndefined', 'thrownNull', 'thrownNumber', 'codeThenThrow', 'codeThenThrowNoStatus', 'withCause', 'statusZero',
  'status302Error', 'badCode', 'bigint', 'circular', 'throwingGetter', 'throwingToJSON']
export const KNOWN_DIFFERENCES = [
  {
    why: 'an error no middleware handles: Express\'s default handler (finalhandler) answers an HTML page with the same status; Fastify\'s answers JSON',
    cases: UNHANDLED_ERRORS,
    fields: HTML_PAGE
  },
  {
    why: 'the error middleware sees err.status and err.statusCode both set (what Express\'s handlers read)',
    cases: ['thrown', 'returnedError', 'codeThenThrow', 'withCause'].map((name) => `error handler: ${name}`),
    fields: ['body', 'content-length']
  },
  {
    why: 'a thrown non-Error reaches Express\'s error middleware as an Error (Express gives next(\'route\') and next(\'router\') a meaning of their own): message and fields kept, status set',
    cases: ['thrownObject', 'thrownString', 'thrownUndefined', 'thrownNumber', 'badCode'].map((name) => `error handler: ${name}`),
    fields: ['body', 'content-length']
  },
  {
    why: 'a returned null: an empty body in Express (as res.send(null)); JSON `null` in Fastify',
    cases: ['nullValue'],
    fields: ['body', 'content-length', 'content-type']
  },
  {
    why: 'an object under a non-JSON content type: Express sends its JSON under that type (res.type adds a charset); Fastify refuses it without a serializer (500)',
    cases: ['customContentType'],
    fields: ['body', 'content-length', 'content-type', 'status']
  }
]
const EXPRESS4_ONLY = [
  {
    why: 'Express 4\'s body parsers set req.body to {} on a request without a body (Express 5 leaves it undefined, as Fastify does)',
    cases: ['echo GET with query and params'],
    fields: ['body', 'content-length']
  }
]

function expectedFor (name) {
  const want = {}
  for (const { cases, fields } of [...KNOWN_DIFFERENCES, ...(name === 'Express 4' ? EXPRESS4_ONLY : [])]) {
    for (const label of cases) want[label] = [...fields].sort()
  }
  return want
}

function errorBody (err) {
  return { type: typeof err, isError: err instanceof Error, spread: err !== null && typeof err === 'object' ? { ...err } : err, message: err?.message }
}

async function buildFastify () {
  const app = Fastify({ logger: false, requestIdHeader: 'x-request-id' })
  await app.register(mpm, { threads: 2, taskTimeout: 10_000 })
  const handler = (name) => offload(CORPUS, { export: name })
  for (const name of Object.keys(corpus)) app.route({ method: ['GET', 'POST'], url: `/c/${name}`, handler: handler(name) })
  app.route({ method: ['GET', 'POST'], url: '/c/echo/:p', handler: handler('echo') })
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (req, reply) => { reply.header('x-hook', 'from-hook').header('set-cookie', 'h=0') })
    for (const name of HOOK_CASES) scope.get(`/hook/${name}`, handler(name))
  })
  await app.register(async (scope) => {
    scope.setErrorHandler(async (err, req, reply) => {
      reply.code(err?.statusCode >= 400 ? err.statusCode : 500)
      return errorBody(err)
    })
    for (const name of ERROR_CASES) scope.get(`/eh/${name}`, handler(name))
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { url: `http://127.0.0.1:${app.server.address().port}`, close: () => app.close() }
}

async function buildExpress (express) {
  return await startExpress(express, { threads: 2, taskTimeout: 10_000 }, (app, mpm) => {
    // Headers Express adds to every answer and Fastify never sends: framework defaults, off here.
    app.disable('x-powered-by').set('etag', false)
    app.use(express.json({ limit: '1mb' }), express.text())
    for (const name of Object.keys(corpus)) app.all(`/c/${name}`, mpm.offload(CORPUS, { export: name }))
    app.all('/c/echo/:p', mpm.offload(CORPUS, { export: 'echo' }))
    const hooked = express.Router()
    hooked.use((req, res, next) => { res.set('x-hook', 'from-hook').append('set-cookie', 'h=0'); next() })
    for (const name of HOOK_CASES) hooked.get(`/${name}`, mpm.offload(CORPUS, { export: name }))
    app.use('/hook', hooked)
    const errors = express.Router()
    for (const name of ERROR_CASES) errors.get(`/${name}`, mpm.offload(CORPUS, { export: name }))
    errors.use((err, req, res, next) => { res.status(err?.statusCode >= 400 ? err.statusCode : 500).json(errorBody(err)) })
    app.use('/eh', errors)
  })
}

function comparable (status, headers, body) {
  const kept = {}
  for (const [name, value] of Object.entries(headers)) if (!IGNORED_HEADERS.has(name)) kept[name] = value
  return { status, headers: kept, body: body.toString('latin1') }
}

/** The fields in which two answers differ: status, header names, body. */
function differingFields (a, b) {
  const fields = []
  if (a.status !== b.status) fields.push('status')
  for (const name of new Set([...Object.keys(a.headers), ...Object.keys(b.headers)])) {
    if (JSON.stringify(a.headers[name]) !== JSON.stringify(b.headers[name])) fields.push(name)
  }
  if (a.body !== b.body) fields.push('body')
  return fields.sort()
}

describe('differential: Express adapter vs Fastify plugin on one corpus', { timeout: 120_000 }, () => {
  const agent = new Agent({ connections: 4 })
  let fastify
  before(async () => { fastify = await buildFastify() })
  after(async () => {
    await fastify?.close()
    await agent.close()
  })
  const fetch = async (base, method, path, opts = {}) => {
    const res = await request(base + path, { method, body: opts.body, headers: opts.headers, dispatcher: agent })
    return comparable(res.statusCode, res.headers, Buffer.from(await res.body.arrayBuffer()))
  }

  for (const [name, express] of EXPRESSES) {
    test(`${name}: ${CASES.length} cases answer as under Fastify, except the listed differences`, async (t) => {
      const srv = await buildExpress(express)
      t.after(() => srv.close())
      const seen = {}
      const detail = []
      for (const [label, method, path, opts] of CASES) {
        const underFastify = await fetch(fastify.url, method, path, opts)
        const underExpress = await fetch(srv.url, method, path, opts)
        const fields = differingFields(underFastify, underExpress)
        if (fields.length > 0) {
          seen[label] = fields
          detail.push(`${label}: ${fields.join(', ')}\n  fastify: ${JSON.stringify(underFastify).slice(0, 300)}\n  express: ${JSON.stringify(underExpress).slice(0, 300)}`)
        }
      }
      assert.deepEqual(seen, expectedFor(name), detail.join('\n'))
      const stats = srv.mpm.stats()
      assert.equal(stats.crashed, 0)
      assert.ok(stats.completed + stats.failed >= CASES.length, `completed ${stats.completed} + failed ${stats.failed}`)
    })
  }

  test('request ids: the client\'s X-Request-Id under Express; under Fastify only with Fastify\'s requestIdHeader option', async (t) => {
    const given = { 'x-request-id': 'lb-7f3a' }
    const srv = await buildExpress(EXPRESSES[0][1])
    t.after(() => srv.close())
    assert.equal((await srv.request('/c/echo/p', { headers: given })).json().id, 'lb-7f3a')
    assert.match((await srv.request('/c/echo/p', { headers: { 'x-request-id': 'x'.repeat(129) } })).json().id, /^req-\w+$/, 'too long: ignored')
    assert.match((await srv.request('/c/echo/p')).json().id, /^req-\w+$/)
    // This suite's Fastify app sets requestIdHeader: 'x-request-id', so ids match Express's.
    const echoed = await request(`${fastify.url}/c/echo/p`, { headers: given, dispatcher: agent })
    assert.equal((await echoed.body.json()).id, 'lb-7f3a')
    // Fastify's default: its own genReqId, whatever the client sends.
    const plain = Fastify({ logger: false })
    await plain.register(mpm, { threads: 1 })
    plain.get('/c/echo/:p', offload(CORPUS, { export: 'echo' }))
    await plain.listen({ host: '127.0.0.1', port: 0 })
    t.after(() => plain.close())
    const res = await request(`http://127.0.0.1:${plain.server.address().port}/c/echo/p`, { headers: given, dispatcher: agent })
    assert.match((await res.body.json()).id, /^req-\w+$/)
  })

  for (const [name, express] of EXPRESSES) {
    test(`${name}: the boundary's corners (issue 16) answer as Express answers inline`, async (t) => {
      const srv = await startExpress(express, { threads: 1, taskTimeout: 10_000 }, (app, mpm) => {
        app.use(express.json({ limit: '1mb' }))
        app.get('/inline/prototypes/:p', (req, res) => {
          res.json({ params: Object.getPrototypeOf(req.params) === null, query: Object.getPrototypeOf(req.query) === null })
        })
        app.get('/off/prototypes/:p', mpm.offload(BOUNDARY, { export: 'prototypes' }))
        app.get('/headers-string', mpm.offload(BOUNDARY, { export: 'errorHeadersString' }))
        app.get('/headers-string-503', mpm.offload(BOUNDARY, { export: 'errorHeadersString503' }))
        app.post('/body-depth', mpm.offload(CORPUS, { export: 'bodyDepth' }))
      })
      t.after(() => srv.close())
      const inline = await srv.request('/inline/prototypes/p1?q=1')
      const offloaded = await srv.request('/off/prototypes/p1?q=1')
      assert.deepEqual(offloaded.json(), inline.json())

      // Express's handlers ignore an error's `headers` unless it is an object: never spread a string.
      for (const [path, status] of [['/headers-string', 400], ['/headers-string-503', 503]]) {
        const res = await srv.request(path)
        assert.equal(res.status, status)
        for (const header of ['0', '1', '2']) assert.equal(res.headers[header], undefined, `${path}: header ${header}`)
      }

      // The depth check reads the declared length; a compressed body inflates past it.
      const deep = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000)
      const plain = await srv.request('/body-depth', { method: 'POST', body: deep, headers: { 'content-type': 'application/json' } })
      const gzipped = await srv.request('/body-depth', { method: 'POST', body: gzipSync(deep), headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } })
      assert.equal(plain.status, 200, plain.text)
      assert.deepEqual(plain.json(), { depth: 5000 })
      assert.equal(gzipped.status, plain.status, gzipped.text)
      assert.equal(gzipped.text, plain.text)
      assert.equal(srv.mpm.stats().crashed, 0)
    })
  }

  test('the listed differences, as an Express user sees them', async (t) => {
    const srv = await buildExpress(EXPRESSES[0][1])
    t.after(() => srv.close())
    const nul = await srv.request('/c/nullValue')
    assert.equal(nul.status, 200)
    assert.equal(nul.text, '')
    const typed = await srv.request('/c/customContentType')
    assert.equal(typed.headers['content-type'], 'application/x-custom; charset=utf-8')
    const str = await srv.request('/eh/thrownString')
    assert.equal(str.status, 500)
    assert.deepEqual(str.json(), { type: 'object', isError: true, spread: { status: 500, statusCode: 500 }, message: 'a bare string' })
  })
})
