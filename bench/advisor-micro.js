// The advisor's per-request cost on the main thread, without HTTP or load-generator noise
// (issue 19): the exact calls its seams add, timed in a loop of --requests, --rounds times.
// - Fastify: what Fastify 5 does per request once the handler tracing channel has a subscriber
//   (the store object, runStores, end, asyncStart, asyncEnd: handle-request.js, wrap-thenable.js)
//   with the advisor's subscriber recording each request, vs the direct handler call it replaces.
// - Express 5: a route's dispatch of a trivial handler, before and after the advisor wraps the
//   router's Layer.
// Compare the difference with a trivial route's server CPU µs/request over HTTP
// (npm run bench -- --only advisor) to get its share. Run after `npm run build`.
import diagnostics from 'node:diagnostics_channel'
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'
import express from 'express'
import Fastify from 'fastify'
import mpm from 'fastify-mpm'
import { createMpm } from 'fastify-mpm/express'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, requests: { type: 'string', default: '500000' } } })
const N = Number(values.requests)
const rounds = Number(values.rounds)
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
function time (fn) {
  const results = []
  for (let r = 0; r < rounds + 1; r++) {
    const start = process.cpuUsage()
    for (let i = 0; i < N; i++) fn()
    const used = process.cpuUsage(start)
    if (r > 0) results.push((used.user + used.system) * 1000 / N)   // the first round warms up
  }
  return median(results)
}

// -- Fastify --
const app = Fastify({ logger: false })
await app.register(mpm, { threads: 1 })
app.get('/trivial', async () => ({ hello: 'world' }))
await app.ready()
const channels = diagnostics.tracingChannel('fastify.request.handler')
const kStore = Symbol('store')
const inner = (store) => { try { if (store !== undefined) store.async = true } finally { if (store !== undefined) channels.end.publish(store) } }
const bare = time(() => inner(undefined))
const traced = time(() => {
  const reply = {}
  const store = { request: { server: app }, reply, async: false, route: { url: '/trivial', method: 'GET' } }
  reply[kStore] = store
  channels.start.runStores(store, inner, undefined, store)
  channels.asyncStart.publish(store)
  channels.asyncEnd.publish(store)
})
await app.close()
console.log(`Fastify: ${(traced - bare).toFixed(0)} ns/request added (traced ${traced.toFixed(0)} ns, direct call ${bare.toFixed(0)} ns; median of ${rounds} × ${N})`)

// -- Express 5 --
const log = { child: () => log }
for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal']) log[level] = () => {}
const emp = createMpm({ threads: 1, logger: log })
const eapp = express()
eapp.get('/trivial', (req, res) => { res.writableEnded = true })
const route = eapp.router.stack.find((layer) => layer.route !== undefined).route
const req = { method: 'GET', app: eapp, baseUrl: '', params: {}, url: '/trivial' }
const dispatch = () => { req.route = undefined; const res = { writableEnded: false }; route.dispatch(req, res, () => {}) }
const unwrapped = time(dispatch)
emp.attach(createServer(eapp))
const wrapped = time(dispatch)
await emp.close()
console.log(`Express 5: ${(wrapped - unwrapped).toFixed(0)} ns/request added (wrapped ${wrapped.toFixed(0)} ns, unwrapped ${unwrapped.toFixed(0)} ns; median of ${rounds} × ${N})`)
