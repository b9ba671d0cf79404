// The offload() contract, fuzzed: fast-check generates small handler "programs" (reply calls,
// request reads, a value returned or thrown, over every value kind a handler can make) and one
// handler (test/fixtures/handlers/programs.js) interprets each, inline and through offload(), on
// one Fastify app: plain, under a response schema, and inside a plugin with its own error handler
// and an onRequest hook. Status, headers and body bytes must match, or the difference must be one
// README lists, matched by a named predicate below. Seeded; a failure prints the seed and the
// shrunk program. For exploring (not for npm test): FUZZ_SEEDS, FUZZ_RUNS, FUZZ_HTTP_SEED and
// FUZZ_HTTP_RUNS set the size; FUZZ_TALLY=1 counts every difference kind instead of stopping at
// the first (examples in /tmp/fuzz-tally.json); FUZZ_PROGRAM='<json>' prints both answers to one
// program; FUZZ_VERBOSE=1 prints each program that differs.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import fc from 'fast-check'
import { Agent, request } from 'undici'
import mpm, { offload } from 'fastify-mpm'
import { captureLogs } from '../helpers/logs.js'
import { describeError } from '../helpers/error-report.js'
import { run as inlineRun } from '../fixtures/handlers/programs.js'
import { programArb } from './fuzz-programs.js'

const PROGRAMS = new URL('../fixtures/handlers/programs.js', import.meta.url)
const SEEDS = (process.env.FUZZ_SEEDS ?? '1616,2026,77,4242,31337').split(',').map(Number)
const RUNS = Number(process.env.FUZZ_RUNS ?? 1500)
// A few programs also go over real HTTP (Node's own header validation and writing, not light-my-request's).
const HTTP_SEED = Number(process.env.FUZZ_HTTP_SEED ?? 909)
const HTTP_RUNS = Number(process.env.FUZZ_HTTP_RUNS ?? 200)

// Headers that legitimately differ between two requests, whichever way they are answered: the
// clock, and the connection handling light-my-request reports. Nothing else is excluded.
const IGNORED_HEADERS = new Set(['date', 'connection', 'keep-alive'])

const SCHEMA = {
  response: {
    '2xx': {
      type: 'object',
      properties: { a: {}, n: { type: 'number' }, s: { type: 'string' }, list: { type: 'array' } }
    }
  }
}

/** Every part of a program description, walked: does any value in it match `test`? */
function mentions (program, test) {
  const walk = (node) => Array.isArray(node) ? (test(node) || node.some(walk)) : (node !== null && typeof node === 'object' ? Object.values(node).some(walk) : false)
  return walk(program)
}

/**
 * Differences README's "what still differs" lists (`readme`: the entry), each matched narrowly:
 * the program has the feature the entry names, and where the entry says what the answer is, the
 * answers show it. Anything else is undocumented and fails the test.
 */
const DOCUMENTED = [
  {
    name: 'a thrown stream cannot cross',
    readme: 'a handler that throws a stream (or returns a web Response) is answered 500 FST_MPM_NOT_CLONEABLE naming the route',
    // The 500 names the route, unless writing the head fails first (a header value that cannot
    // become text), which then answers as that failure does.
    matches: (program, inline, offloaded) => program.end[0] === 'throw' && program.end[1][0] === 'stream' && offloaded.status === 500 &&
      ((/FST_MPM_NOT_CLONEABLE/.test(offloaded.body) && /threw a (Node stream|web ReadableStream)/.test(offloaded.body)) || /Cannot convert/.test(offloaded.body))
  },
  {
    name: 'a response schema does not see fields JSON.stringify would not',
    readme: 'under a response schema, fields JSON.stringify does not see (a class instance\'s prototype getters, non-enumerable own fields) are not serialized: what crosses threads is the data JSON.stringify sees',
    matches: (program) => program.mount === 's' &&
      mentions(program.end[1], (node) => node[2] === 'h' || node[0] === 'cls')
  },
  {
    name: 'a response schema coerces the data JSON.stringify sees',
    readme: 'under a response schema, a field typed as a number or string that holds something JSON writes as an object (a Set, a Proxy around one) is coerced from that object: the serializer\'s error names `[object Object]` where inline it names `[object Set]`',
    matches: (program, inline, offloaded) => program.mount === 's' && inline.status === 500 && offloaded.status === 500 &&
      /cannot be converted to a number/.test(inline.body) && /"\[object Object\]\\" cannot be converted to a number/.test(offloaded.body)
  },
  {
    name: 'nested values in error fields are JSON data',
    readme: 'inside an error\'s fields and cause, and inside a thrown object\'s fields, values are the data JSON.stringify sees: an instance of a class, a Map, a Set, a boxed value or a Proxy there is a plain object (an Error is an Error), a function or symbol nested in one is dropped (`null` in an array), so an error handler that converts such a field to text (`String(err.cause)`) may see other text',
    matches: (program) => errorParts(program.end[1]).some(holdsNonJsonData)
  },
  {
    name: 'a circular value names the copy\'s constructor',
    readme: 'a returned value with a cycle fails as inline (JSON\'s circular-structure TypeError), but where the cycle starts at a class instance, an Error subclass or a Proxy the message names the copy\'s constructor (`Object`, `Array`, `Error`) instead',
    matches: (program, inline, offloaded) => inline.status === offloaded.status &&
      /circular structure/.test(inline.body) && /circular structure/.test(offloaded.body)
  },
  {
    name: 'getters and toJSON() run when the thread encodes the value',
    readme: 'a getter or toJSON() on a returned or thrown value runs in the thread, once, as soon as the handler returns or throws; inline it runs when Fastify serializes the value, or each time an error handler reads a thrown object\'s field (so maybe twice, maybe never). One that reads the reply (`reply.getHeaders()`, `reply.statusCode`) sees it as the handler left it, not as Fastify changed it since (a content type, an error status)',
    matches: (program) => mentions(program.end[1], (node) => (node[2] === 'g' || node[0] === 'tojson') &&
      mentions(node, (inner) => inner[0] === 'rget' || (inner[0] === 'count' && (program.end[0] === 'throw' || program.mount === 's'))))
  },
  {
    name: 'null-prototype objects arrive with a prototype',
    readme: 'an object without a prototype (`Object.create(null)`; Express\'s `req.query`) inside a thrown value, an error\'s fields or a returned value arrives with Object\'s (structured clone gives it one), so converting it to text or a number (an error handler\'s `String()`, a response schema\'s number) gives "[object Object]" or NaN where inline it throws',
    matches: (program, inline) => /Cannot convert object to primitive value/.test(inline.body) &&
      mentions(program.end[1], (node) => node[0] === 'nullproto' || (node[0] === 'req' && (node[1] === 'query' || node[1] === 'params')))
  }
]

/**
 * Cases where Fastify itself fails on the inline side, excluded: its error path throws inside
 * itself ("cb is not a function" from the default error handler given a thrown non-Error object
 * whose fields throw or that has no usable prototype), or it answers 200 with an error body
 * (`"error":"OK"`: its own error handling failed while sending one). What offload() answers then
 * is not a contract anyone can rely on.
 */
function fastifyFailsInline (inline) {
  if (inline.hang === true) return false
  return /cb is not a function/.test(inline.body) || (inline.status === 200 && /"error":"OK"/.test(inline.body))
}

/** The values inside an error (fields, cause, headers) or inside a thrown object's fields. */
function errorParts (desc) {
  if (desc[0] === 'err') {
    const { cause, fields = [], headers } = desc[1]
    return [cause, headers, ...fields.map((entry) => entry[1])].filter((part) => part !== undefined)
  }
  if (['obj', 'nullproto', 'cls', 'fn'].includes(desc[0])) return desc[1].map((entry) => entry[1])
  if (desc[0] === 'proxy') return errorParts(desc[1])
  return []
}

/** An error part holding what JSON writes as plain data: an object of a class, a Map... or, nested, a function or symbol. */
function holdsNonJsonData (part) {
  const NOT_DATA = ['cls', 'weakmap', 'proxy', 'map', 'set', 'boxed', 'nullproto']
  const CONTAINERS = ['obj', 'nullproto', 'cls', 'arr', 'map', 'set', 'proxy', 'fn', 'err']
  return mentions(part, (node) => NOT_DATA.includes(node[0])) ||
    (CONTAINERS.includes(part[0]) && mentions(part[1], (node) => node[0] === 'sym' || node[0] === 'fn'))
}

function classify (program, inline, offloaded) {
  try {
    assert.deepEqual(offloaded, inline)
    return null
  } catch {}
  // Fastify itself leaves the request unanswered inline: nothing to compare with.
  if (inline.hang === true && offloaded.hang !== true) return 'fastify hangs inline (excluded)'
  if (fastifyFailsInline(inline)) return 'fastify fails inline (excluded)'
  for (const known of DOCUMENTED) if (known.matches(program, inline, offloaded)) return known.name
  return 'undocumented'
}

async function buildApp () {
  const logs = captureLogs()
  const app = Fastify({ logger: { level: 'fatal', stream: logs.stream } })
  await app.register(mpm, { threads: 2, taskTimeout: 10_000 })
  for (const [side, handler] of [['inline', inlineRun], ['off', offload(PROGRAMS, { export: 'run' })]]) {
    app.post(`/${side}/p/:p`, handler)
    app.post(`/${side}/s/:p`, { schema: SCHEMA }, handler)
    await app.register(async (scope) => {
      scope.addHook('onRequest', async (req, reply) => { reply.header('x-hook', 'from-hook').header('set-cookie', 'h=0') })
      scope.setErrorHandler(async (err, req, reply) => {
        reply.code(err?.statusCode >= 400 && err?.statusCode < 600 ? err.statusCode : 500)
        return describeError(err)
      })
      scope.post(`/${side}/e/:p`, handler)
    })
  }
  await app.listen({ host: '127.0.0.1', port: 0 })
  return app
}

/** An answer, or `{ hang: true }` when none came within 5 s (Fastify leaves some requests unanswered). */
async function answer (app, side, program, over = send) {
  let timer
  const hung = new Promise((resolve) => { timer = setTimeout(() => resolve({ hang: true }), 5000) })
  try {
    return await Promise.race([over(app, side, program), hung])
  } finally {
    clearTimeout(timer)
  }
}

async function send (app, side, program) {
  const res = await app.inject({
    method: 'POST',
    url: `/${side}/${program.mount}/pv?q=1&q=2&r=%C3%A9`,
    payload: JSON.stringify(program),
    headers: { 'content-type': 'application/json', 'x-a': 'from-client' }
  })
  const headers = {}
  for (const [name, value] of Object.entries(res.headers)) if (!IGNORED_HEADERS.has(name)) headers[name] = value
  return { status: res.statusCode, headers, body: res.rawPayload.toString('latin1') }
}

const agent = new Agent({ connections: 2 })

async function sendHttp (app, side, program) {
  const res = await request(`http://127.0.0.1:${app.server.address().port}/${side}/${program.mount}/pv?q=1&q=2&r=%C3%A9`, {
    method: 'POST',
    body: JSON.stringify(program),
    headers: { 'content-type': 'application/json', 'x-a': 'from-client' },
    dispatcher: agent
  })
  const body = Buffer.from(await res.body.arrayBuffer())
  const headers = {}
  for (const [name, value] of Object.entries(res.headers)) if (!IGNORED_HEADERS.has(name)) headers[name] = value
  return { status: res.statusCode, headers, body: body.toString('latin1') }
}

describe('fuzzed differential: generated handler programs answer alike inline and offloaded', { timeout: 180_000 }, () => {
  let app
  before(async () => { app = await buildApp() })
  after(async () => {
    await agent.close()
    await app?.close()
  })

  if (process.env.FUZZ_PROGRAM !== undefined) {
    test('one program (exploration)', async () => {
      const program = JSON.parse(process.env.FUZZ_PROGRAM)
      console.log(JSON.stringify({ inline: await answer(app, 'inline', program), offloaded: await answer(app, 'off', program) }, null, 1))
    })
    return
  }

  if (process.env.FUZZ_TALLY === '1') {
    test('tally of difference kinds (exploration)', async () => {
      const tally = new Map()
      for (const seed of SEEDS) {
        for (const program of fc.sample(programArb, { seed, numRuns: RUNS })) {
          const inline = await answer(app, 'inline', program)
          const offloaded = await answer(app, 'off', program)
          const kind = classify(program, inline, offloaded)
          if (kind === null) continue
          const entry = tally.get(kind) ?? { n: 0, examples: [] }
          entry.n++
          if (entry.examples.length < 400) entry.examples.push({ program, inline, offloaded })
          tally.set(kind, entry)
        }
      }
      const { writeFileSync } = await import('node:fs')
      writeFileSync('/tmp/fuzz-tally.json', JSON.stringify([...tally], null, 1))
      for (const [kind, { n }] of tally) console.log(kind, n)
    })
    return
  }

  for (const seed of SEEDS) {
    test(`seed ${seed}: ${RUNS} programs, 0 undocumented differences`, async () => {
      const property = fc.asyncProperty(programArb, async (program) => {
        const inline = await answer(app, 'inline', program)
        const offloaded = await answer(app, 'off', program)
        const kind = classify(program, inline, offloaded)
        if (process.env.FUZZ_VERBOSE === '1' && (kind !== null || inline.hang || offloaded.hang)) console.log(kind, inline.hang, offloaded.hang, JSON.stringify(program))
        if (kind === 'undocumented') {
          throw new Error(`answers differ\n  inline:    ${JSON.stringify(inline).slice(0, 600)}\n  offloaded: ${JSON.stringify(offloaded).slice(0, 600)}`)
        }
      })
      const result = await fc.check(property, { seed, numRuns: RUNS })
      if (result.failed) {
        assert.fail(`seed ${seed} (path ${result.counterexamplePath}): shrunk program\n${JSON.stringify(result.counterexample[0])}\n${result.errorInstance?.message ?? result.error}`)
      }
    })
  }

  test(`seed ${HTTP_SEED}: ${HTTP_RUNS} programs over real HTTP, 0 undocumented differences`, async () => {
    const property = fc.asyncProperty(programArb, async (program) => {
      const inline = await answer(app, 'inline', program, sendHttp)
      const offloaded = await answer(app, 'off', program, sendHttp)
      if (classify(program, inline, offloaded) === 'undocumented') {
        throw new Error(`answers differ\n  inline:    ${JSON.stringify(inline).slice(0, 600)}\n  offloaded: ${JSON.stringify(offloaded).slice(0, 600)}`)
      }
    })
    const result = await fc.check(property, { seed: HTTP_SEED, numRuns: HTTP_RUNS })
    if (result.failed) {
      assert.fail(`seed ${HTTP_SEED} over HTTP (path ${result.counterexamplePath}): shrunk program\n${JSON.stringify(result.counterexample[0])}\n${result.errorInstance?.message ?? result.error}`)
    }
  })

  test('nothing crashed or replaced a thread, nothing is left busy', async () => {
    const stats = app.mpm.stats()
    assert.ok(stats.completed + stats.failed >= RUNS * 0.9, `completed ${stats.completed} + failed ${stats.failed}`)
    assert.equal(stats.crashed, 0)
    assert.equal(stats.threadExits, 0)
    assert.equal(stats.busy, 0)
  })
})

