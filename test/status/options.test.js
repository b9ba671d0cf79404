// The operator view's options: off by default, validated early with errors that name the option.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import mpm from 'fastify-mpm'
import { startApp } from '../helpers/app.js'

/** Registers the plugin with `options`; returns the error's message after checking its code. */
async function registerFails (options) {
  const app = Fastify()
  let error
  try {
    await app.register(mpm, { threads: 0, ...options }).ready()
  } catch (err) {
    error = err
  } finally {
    await app.close().catch(() => {})
  }
  assert.ok(error, `expected register to fail for ${JSON.stringify(options)}`)
  assert.equal(error.code, 'FST_MPM_INVALID_OPTION')
  return error.message
}

test('nothing about the server is served unless enabled', { timeout: 20_000 }, async (t) => {
  const srv = await startApp({ threads: 0 })
  t.after(() => srv.close())
  assert.equal((await srv.request('/server-status')).status, 404)
  assert.equal((await srv.request('/server-status?json')).status, 404)
  assert.equal((await srv.request('/metrics')).status, 404)
})

test('status and metrics accept true and custom paths', { timeout: 20_000 }, async (t) => {
  const srv = await startApp({ threads: 0, status: { path: '/_status' }, metrics: true })
  t.after(() => srv.close())
  assert.equal((await srv.request('/_status?auto')).status, 200)
  assert.equal((await srv.request('/server-status')).status, 404)
  assert.equal((await srv.request('/metrics')).status, 200)
  const { options } = srv.app.mpm
  assert.deepEqual(options.status.allow, ['127.0.0.1', '::1'])
  assert.equal(options.metrics.path, '/metrics')
  assert.equal(options.slowTaskThreshold, 0)
})

test('bad options fail register with the option named', { timeout: 20_000 }, async () => {
  assert.match(await registerFails({ status: { allow: ['127.0.0.1', 'localhost'] } }), /"status\.allow" \[1\] must be an IP or a CIDR.*"localhost"/)
  assert.match(await registerFails({ status: { allow: ['10.0.0.0/33'] } }), /"status\.allow" \[0\]/)
  assert.match(await registerFails({ metrics: { allow: '127.0.0.1' } }), /"metrics\.allow" must be an array/)
  assert.match(await registerFails({ status: { path: 'server-status' } }), /"status\.path" must be a URL path starting with "\/"/)
  assert.match(await registerFails({ status: { onRequest: 'token' } }), /"status\.onRequest" must be a Fastify onRequest hook/)
  assert.match(await registerFails({ status: { allowed: [] } }), /"status\.allowed" is not a status option/)
  assert.match(await registerFails({ status: 'yes' }), /"status" must be true or an object/)
  assert.match(await registerFails({ status: true, metrics: { path: '/server-status' } }), /"metrics\.path" must differ from status\.path/)
  assert.match(await registerFails({ slowTaskThreshold: -1 }), /"slowTaskThreshold" must be an integer >= 0/)
})
