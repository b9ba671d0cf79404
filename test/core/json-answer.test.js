// Object answers serialized once, in the thread (issue 21, point 2): where Fastify would send
// JSON.stringify(value), the thread sends that text and the main thread only passes it on. The
// answer must stay the bytes inline gives, for every value and route set-up, and the thread must
// not serialize where Fastify would not: a response schema, a preSerialization hook, a reply or
// route serializer, a content type that is not JSON. json-realm.js shows where the text was made.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import mpm, { offload } from 'fastify-mpm'
import { Agent, request } from 'undici'
import * as answers from '../fixtures/handlers/json-answers.js'
import stamped from '../fixtures/handlers/json-realm.js'
import { fixture } from '../helpers/app.js'

const ANSWERS = fixture('json-answers.js')
const REALM = fixture('json-realm.js')
const NAMES = Object.keys(answers).filter((name) => typeof answers[name] === 'function')
const IGNORED_HEADERS = new Set(['date', 'connection', 'keep-alive'])
const IN_THREAD = '"at":"serialized in a thread"'
const ISO = '"at":"1970-01-01T00:00:00.000Z"'

/** The ways a route can be set up around the same handler, `offloaded` or as an ordinary Fastify handler. */
async function mount (app, prefix, handler) {
  app.get(`${prefix}/plain`, handler)
  app.get(`${prefix}/schema`, { schema: { response: { 200: { type: 'object', properties: { at: { type: 'string' }, list: { type: 'array' } } } } } }, handler)
  await app.register(async (scope) => {
    scope.addHook('preSerialization', async (req, reply, payload) => payload)
    scope.get(`${prefix}/pre-serialization`, handler)
  })
  await app.register(async (scope) => {
    scope.addHook('preHandler', async (req, reply) => { reply.serializer((payload) => JSON.stringify(payload)) })
    scope.get(`${prefix}/reply-serializer`, handler)
  })
  await app.register(async (scope) => {
    scope.setReplySerializer((payload) => JSON.stringify(payload))
    scope.get(`${prefix}/route-serializer`, handler)
  })
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (req, reply) => { reply.type('text/plain') })
    scope.get(`${prefix}/text-type`, handler)
  })
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (req, reply) => { reply.type('application/problem+json') })
    // onSend sees the serialized text either way, as inline.
    scope.addHook('onSend', async (req, reply, payload) => typeof payload === 'string' ? payload + '\n' : payload)
    scope.get(`${prefix}/json-type-and-on-send`, handler)
  })
}

async function answer (app, path) {
  const res = await app.inject(path)
  const headers = {}
  for (const [name, value] of Object.entries(res.headers)) if (!IGNORED_HEADERS.has(name)) headers[name] = value
  return { status: res.statusCode, headers, body: res.payload }
}

test('the thread serializes an object answer only where Fastify would send JSON.stringify() of it; elsewhere the answer is made on the main thread, as inline', { timeout: 30_000 }, async (t) => {
  const app = Fastify({ logger: false })
  await app.register(mpm, { threads: 1 })
  await mount(app, '/off', offload(REALM))
  await mount(app, '/in', stamped)
  t.after(() => app.close())
  await app.ready()
  const plain = await answer(app, '/off/plain')
  assert.equal(plain.body, `{${IN_THREAD},"list":[1,2]}`, 'a plain route: made in the thread')
  assert.equal(plain.headers['content-type'], 'application/json; charset=utf-8')
  const typed = await answer(app, '/off/json-type-and-on-send')
  assert.equal(typed.body, `{${IN_THREAD},"list":[1,2]}\n`, 'a JSON content type from a hook, an onSend hook: made in the thread')
  assert.equal(typed.headers['content-type'], 'application/problem+json; charset=utf-8')
  for (const setUp of ['schema', 'pre-serialization', 'reply-serializer', 'route-serializer', 'text-type']) {
    const off = await answer(app, `/off/${setUp}`)
    assert.ok(!off.body.includes(IN_THREAD), `${setUp}: not serialized in the thread (${off.body})`)
    assert.deepEqual(off, await answer(app, `/in/${setUp}`), `${setUp}: as inline`)
  }
  assert.ok((await answer(app, '/off/schema')).body.includes(ISO))
})

const RUNS = [
  ['in threads', { threads: 2 }, undefined],
  ['with threads: 0', { threads: 0 }, undefined],
  ['in a process pool', { threads: 1, pools: { isolated: { threads: 1, isolation: 'process' } } }, 'isolated']
]
for (const [where, options, pool] of RUNS) test(`object answers: the same status, headers and bytes inline and offloaded ${where}, for every kind of value`, { timeout: 60_000 }, async (t) => {
  const app = Fastify({ logger: false })
  await app.register(mpm, options)
  for (const name of NAMES) {
    app.get(`/in/${name}`, answers[name])
    app.get(`/off/${name}`, offload(ANSWERS, { export: name, pool }))
  }
  await app.listen({ host: '127.0.0.1', port: 0 })
  const agent = new Agent({ connections: 4 })
  t.after(async () => { await agent.close(); await app.close() })
  const base = `http://127.0.0.1:${app.server.address().port}`
  const overHttp = async (path) => {
    const res = await request(base + path, { dispatcher: agent })
    const headers = {}
    for (const [name, value] of Object.entries(res.headers)) if (!IGNORED_HEADERS.has(name)) headers[name] = value
    return { status: res.statusCode, headers, body: Buffer.from(await res.body.arrayBuffer()).toString('latin1') }
  }
  const differences = []
  const queries = ['', '?n=1000', '?depth=900', '?depth=1500', '?depth=6000']
  for (const name of NAMES) {
    for (const query of (name === 'records' ? queries.slice(0, 2) : name === 'deep' ? queries.slice(2) : [''])) {
      for (const [how, get] of [['inject', (path) => answer(app, path)], ['HTTP', overHttp]]) {
        const inline = await get(`/in/${name}${query}`)
        const off = await get(`/off/${name}${query}`)
        try {
          assert.deepEqual(off, inline)
        } catch {
          differences.push(`${name}${query} over ${how}:\n  inline:    ${JSON.stringify(inline).slice(0, 300)}\n  offloaded: ${JSON.stringify(off).slice(0, 300)}`)
        }
      }
    }
  }
  assert.equal(differences.length, 0, `${differences.length} answers differ:\n${differences.join('\n')}`)
  assert.equal(app.mpm.stats(pool).crashed, 0)
})
