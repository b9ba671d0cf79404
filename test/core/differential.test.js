// The offload() contract, checked the way a skeptic would: one handler corpus mounted on two
// apps, once as ordinary Fastify handlers and once through offload(), with the same hooks, schemas
// and error handlers; every case must answer with the same status, headers and body bytes, over
// app.inject() and over real HTTP. A change to the marshalling that alters any answer fails here.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import mpm, { offload } from 'fastify-mpm'
import { Agent, request } from 'undici'
import * as corpus from '../fixtures/handlers/corpus.js'
import * as boundary from '../fixtures/handlers/boundary-corpus.js'
import { captureLogs } from '../helpers/logs.js'
import { tempDir, waitFor } from '../helpers/util.js'
import { describeError } from '../helpers/error-report.js'

const CORPUS = new URL('../fixtures/handlers/corpus.js', import.meta.url)
const FAULTS = new URL('../fixtures/handlers/faults.js', import.meta.url)
const BOUNDARY = new URL('../fixtures/handlers/boundary-corpus.js', import.meta.url)
// Issue 16's hard corners, each mounted plain, under a response schema and under an error
// handler that reads the error by name; streams are tested apart.
const BOUNDARY_CASES = Object.keys(boundary).filter((name) => typeof boundary[name] === 'function' && !boundary.STREAMS.includes(name))
const IGNORED_HEADERS = new Set(['date', 'connection', 'keep-alive'])

function deepBody (depth) {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
}

/** [label, method, path, { body?, headers? }] — the path's last segment names the export. */
const CASES = [
  ...Object.keys(corpus).filter((name) => !['echo', 'bodyDepth', 'deep'].includes(name)).map((name) => [name, 'GET', `/c/${name}`]),
  ['deep 2,500 (clone cannot carry it)', 'GET', '/c/deep?depth=2500'],
  ['deep 6,000 (too deep for JSON.stringify on the main thread)', 'GET', '/c/deep?depth=6000'],
  ['echo GET with query and params', 'GET', '/c/echo/p1?x=1&x=2&y=%C3%A9'],
  ['echo POST JSON', 'POST', '/c/echo/p2', { body: JSON.stringify({ a: [1, { b: null }], s: 'ż' }), headers: { 'content-type': 'application/json' } }],
  ['echo POST text', 'POST', '/c/echo/p3', { body: 'some text', headers: { 'content-type': 'text/plain' } }],
  ['body nested 5,000 deep', 'POST', '/c/bodyDepth', { body: deepBody(5000), headers: { 'content-type': 'application/json' } }],
  ['body nested 1,500 deep', 'POST', '/c/bodyDepth', { body: deepBody(1500), headers: { 'content-type': 'application/json' } }],
  ['onRequest hook header seen by getHeader', 'GET', '/hook/seesHookHeaders'],
  ['onRequest hook header removed', 'GET', '/hook/removesHookHeader'],
  ['set-cookie from a hook, then the handler', 'GET', '/hook/setCookieTwice'],
  ['response schema filters and formats', 'GET', '/schema/object'],
  ['response schema with a date', 'GET', '/schema/date'],
  ...['thrown', 'returnedError', 'thrownObject', 'thrownString', 'thrownUndefined', 'thrownNumber', 'codeThenThrow', 'withCause', 'badCode']
    .map((name) => [`custom error handler: ${name}`, 'GET', `/eh/${name}`]),
  ...BOUNDARY_CASES.flatMap((name) => [
    [`boundary: ${name}`, 'GET', `/b/${name}/p1?q=1`],
    [`boundary under a response schema: ${name}`, 'GET', `/bs/${name}/p1?q=1`],
    [`boundary under an error handler: ${name}`, 'GET', `/be/${name}/p1?q=1`]
  ])
]

async function buildApp (mode, logs) {
  const app = Fastify({ logger: { level: 'info', stream: logs.stream } })
  if (mode === 'offloaded') {
    await app.register(mpm, { threads: 2, taskTimeout: 10_000 })
    app.get('/gated', offload(FAULTS, { export: 'gated' }))
  }
  const handler = (name) => mode === 'offloaded' ? offload(CORPUS, { export: name }) : corpus[name]
  for (const name of Object.keys(corpus)) app.route({ method: ['GET', 'POST'], url: `/c/${name}`, handler: handler(name) })
  app.route({ method: ['GET', 'POST'], url: '/c/echo/:p', handler: handler('echo') })
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (req, reply) => { reply.header('x-hook', 'from-hook').header('set-cookie', 'h=0') })
    for (const name of ['seesHookHeaders', 'removesHookHeader', 'setCookieTwice']) scope.get(`/hook/${name}`, handler(name))
  })
  const schema = {
    response: {
      200: {
        type: 'object',
        properties: { hello: { type: 'string' }, n: { type: 'integer' }, at: { type: 'string', format: 'date' }, points: { type: 'array', items: { type: 'object', properties: { x: { type: 'number' }, secret: { type: 'string' } } } } }
      }
    }
  }
  for (const name of ['object', 'classInstance', 'date']) app.get(`/schema/${name}`, { schema }, handler(name))
  await app.register(async (scope) => {
    scope.setErrorHandler(async (err, req, reply) => {
      reply.code(err?.statusCode >= 400 ? err.statusCode : 500)
      return { type: typeof err, isError: err instanceof Error, spread: err !== null && typeof err === 'object' ? { ...err } : err, message: err?.message }
    })
    for (const name of ['thrown', 'returnedError', 'thrownObject', 'thrownString', 'thrownUndefined', 'thrownNumber', 'codeThenThrow', 'withCause', 'badCode']) {
      scope.get(`/eh/${name}`, handler(name))
    }
  })
  const fromBoundary = (name) => mode === 'offloaded' ? offload(BOUNDARY, { export: name }) : boundary[name]
  for (const name of [...BOUNDARY_CASES, ...boundary.STREAMS]) {
    app.get(`/b/${name}/:p`, fromBoundary(name))
    app.get(`/bs/${name}/:p`, { schema: { response: { '2xx': { type: 'object', properties: { hello: { type: 'string' }, n: { type: 'number' }, list: { type: 'array' } } } } } }, fromBoundary(name))
  }
  await app.register(async (scope) => {
    scope.setErrorHandler(async (err, req, reply) => {
      reply.code(err?.statusCode >= 400 && err?.statusCode < 600 ? err.statusCode : 500)
      return describeError(err)
    })
    for (const name of BOUNDARY_CASES) scope.get(`/be/${name}/:p`, fromBoundary(name))
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  return app
}

function comparable (status, headers, body) {
  const kept = {}
  for (const [name, value] of Object.entries(headers)) if (!IGNORED_HEADERS.has(name)) kept[name] = value
  return { status, headers: kept, body: body.toString('latin1') }
}

describe('differential: the same handler inline and offloaded answers alike', { timeout: 120_000 }, () => {
  const apps = {}
  const logs = { inline: captureLogs(), offloaded: captureLogs() }
  const agent = new Agent({ connections: 4 })
  before(async () => {
    apps.inline = await buildApp('inline', logs.inline)
    apps.offloaded = await buildApp('offloaded', logs.offloaded)
  })
  after(async () => {
    await agent.close()
    await Promise.all(Object.values(apps).map((app) => app.close()))
  })

  const viaInject = async (app, method, path, opts = {}) => {
    const res = await app.inject({ method, url: path, payload: opts.body, headers: opts.headers })
    return comparable(res.statusCode, res.headers, res.rawPayload)
  }
  const viaHttp = async (app, method, path, opts = {}) => {
    const res = await request(`http://127.0.0.1:${app.server.address().port}${path}`, { method, body: opts.body, headers: opts.headers, dispatcher: agent })
    return comparable(res.statusCode, res.headers, Buffer.from(await res.body.arrayBuffer()))
  }

  for (const [transport, send] of [['inject', viaInject], ['HTTP', viaHttp]]) {
    test(`${CASES.length} cases over ${transport}`, async () => {
      const differences = []
      for (const [label, method, path, opts] of CASES) {
        const inline = await send(apps.inline, method, path, opts)
        const offloaded = await send(apps.offloaded, method, path, opts)
        try {
          assert.deepEqual(offloaded, inline)
        } catch {
          differences.push(`${label} (${method} ${path}):\n  inline:    ${JSON.stringify(inline).slice(0, 400)}\n  offloaded: ${JSON.stringify(offloaded).slice(0, 400)}`)
        }
      }
      assert.equal(differences.length, 0, `${differences.length} answers differ:\n${differences.join('\n')}`)
    })
  }

  test(`${CASES.length} cases over HTTP at once: queued short routes share their threads' wake-ups, answers unchanged`, async () => {
    const many = new Agent({ connections: CASES.length + 2 })
    try {
      const viaMany = async (app, method, path, opts = {}) => {
        const res = await request(`http://127.0.0.1:${app.server.address().port}${path}`, { method, body: opts.body, headers: opts.headers, dispatcher: many })
        return comparable(res.statusCode, res.headers, Buffer.from(await res.body.arrayBuffer()))
      }
      // Both threads held, so every case waits in the queue and the short ones leave it in batches.
      const { mpm: pool } = apps.offloaded
      const dir = tempDir()
      const gate = dir.gate()
      const held = [1, 2].map(() => viaMany(apps.offloaded, 'GET', `/gated?gate=${encodeURIComponent(gate.path)}`))
      const batchedBefore = pool.stats().batched
      const answers = CASES.map(([, method, path, opts]) => viaMany(apps.offloaded, method, path, opts))
      await waitFor(() => pool.stats().busy === 2 && pool.stats().queued === CASES.length, { what: 'every case queued' })
      gate.open()
      const offloaded = await Promise.all(answers)
      for (const res of await Promise.all(held)) assert.equal(res.status, 200)
      dir.remove()
      // Request ids follow arrival order, which concurrency shuffles: the one field compared loosely.
      const anyId = (answer) => ({ ...answer, body: answer.body.replace(/"id":"req-[0-9a-z]+"/, '"id":"req-?"') })
      const differences = []
      for (const [i, [label, method, path, opts]] of CASES.entries()) {
        const inline = anyId(await viaHttp(apps.inline, method, path, opts))
        offloaded[i] = anyId(offloaded[i])
        try {
          assert.deepEqual(offloaded[i], inline)
        } catch {
          differences.push(`${label} (${method} ${path}):\n  inline:    ${JSON.stringify(inline).slice(0, 400)}\n  offloaded: ${JSON.stringify(offloaded[i]).slice(0, 400)}`)
        }
      }
      assert.equal(differences.length, 0, `${differences.length} answers differ:\n${differences.join('\n')}`)
      const batched = pool.stats().batched - batchedBefore
      assert.ok(batched > CASES.length / 2, `most cases ran in batches (${batched} of ${CASES.length})`)
    } finally {
      await many.close()
    }
  })

  test('documented difference: a response schema does not see getters on a class prototype', async () => {
    // fast-json-stringify reads a schema's properties through the prototype chain; what crosses
    // threads is the data JSON.stringify sees (own enumerable fields), so `secret` is lost.
    const inline = await viaInject(apps.inline, 'GET', '/schema/classInstance')
    const offloaded = await viaInject(apps.offloaded, 'GET', '/schema/classInstance')
    assert.deepEqual(JSON.parse(inline.body), { points: [{ x: 3, secret: 'prototype getters are not serialized' }] })
    assert.deepEqual(JSON.parse(offloaded.body), { points: [{ x: 3 }] })
  })

  test('a returned stream answers as inline: a Node Readable and a web ReadableStream are streamed, an async generator is JSON', async () => {
    for (const name of boundary.STREAMS) {
      const inline = await viaInject(apps.inline, 'GET', `/b/${name}/p1`)
      const offloaded = await viaInject(apps.offloaded, 'GET', `/b/${name}/p1`)
      assert.equal(offloaded.status, inline.status, name)
      assert.equal(offloaded.headers['content-type'], inline.headers['content-type'], name)
      assert.equal(offloaded.body, inline.body, name)
      assert.equal(inline.status, 200, name)
    }
  })

  test('the corpus exercised what it claims: threads served the offloaded app, nothing crashed', async () => {
    const stats = apps.offloaded.mpm.stats()
    assert.ok(stats.completed + stats.failed >= CASES.length * 3, `completed ${stats.completed} + failed ${stats.failed}`)
    assert.equal(stats.crashed, 0)
    assert.equal(stats.threadExits, 0)
    assert.equal(stats.busy, 0)
  })
})
