// Who may read the status page and metrics: IPs and CIDRs (checked against the connection's
// address, never a forwarded header), or a
// guard of the user's own. The second client connects from another loopback address, 127.0.0.2.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Agent } from 'undici'
import { send, startApp } from '../helpers/app.js'

const fromOther = new Agent({ localAddress: '127.0.0.2' })
const fromLocal = new Agent({ localAddress: '127.0.0.1' })
after(async () => { await fromOther.close(); await fromLocal.close() })

/** Status codes of GET path from 127.0.0.1 and from 127.0.0.2. */
async function statuses (srv, path, headers = {}) {
  const local = await send(srv.url + path, { dispatcher: fromLocal, headers })
  const other = await send(srv.url + path, { dispatcher: fromOther, headers })
  return [local.status, other.status]
}

describe('allow', { timeout: 30_000 }, () => {
  test('the default lets loopback 127.0.0.1 in and gives 127.0.0.2 a 403', async (t) => {
    const srv = await startApp({ threads: 1, status: true, metrics: true })
    t.after(() => srv.close())
    assert.deepEqual(await statuses(srv, '/server-status'), [200, 403])
    assert.deepEqual(await statuses(srv, '/server-status?json'), [200, 403])
    assert.deepEqual(await statuses(srv, '/server-status?auto'), [200, 403])
    assert.deepEqual(await statuses(srv, '/metrics'), [200, 403])
    const denied = await send(srv.url + '/server-status?json', { dispatcher: fromOther })
    assert.equal(denied.text, 'Forbidden\n')
    assert.doesNotMatch(denied.text, /pid|scoreboard/i, 'a 403 leaks nothing about the server')
  })

  test('an explicit address list and CIDRs', async (t) => {
    const srv = await startApp({
      threads: 1,
      status: { allow: ['127.0.0.2'] },
      metrics: { allow: ['10.0.0.0/8', '127.0.0.0/30', 'fd00::/8'] }
    })
    t.after(() => srv.close())
    assert.deepEqual(await statuses(srv, '/server-status'), [403, 200])
    assert.deepEqual(await statuses(srv, '/metrics'), [200, 200])
  })

  test('with trustProxy, X-Forwarded-For cannot open the page: the connection address decides', async (t) => {
    const srv = await startApp({ threads: 1, status: true, metrics: { allow: ['10.1.2.3'] } }, (app) => {
      app.get('/ip', async (request) => ({ ip: request.ip }))
    }, { fastify: { trustProxy: true } })
    t.after(() => srv.close())
    // request.ip does follow the header here, which is why the check must not use it.
    const seen = await send(srv.url + '/ip', { dispatcher: fromOther, headers: { 'x-forwarded-for': '127.0.0.1' } })
    assert.equal(seen.json().ip, '127.0.0.1')
    assert.deepEqual(await statuses(srv, '/server-status', { 'x-forwarded-for': '127.0.0.1' }), [200, 403])
    assert.deepEqual(await statuses(srv, '/metrics', { 'x-forwarded-for': '10.1.2.3' }), [403, 403])
  })

  test('an empty list shuts everyone out', async (t) => {
    const srv = await startApp({ threads: 1, status: { allow: [] } })
    t.after(() => srv.close())
    assert.deepEqual(await statuses(srv, '/server-status'), [403, 403])
  })

  test("a custom onRequest guard replaces the default address check", async (t) => {
    const onRequest = async (request, reply) => {
      if (request.headers['x-status-token'] === 'sesame') return
      reply.code(401).send({ error: 'token required' })
      return reply
    }
    const srv = await startApp({ threads: 1, status: { onRequest }, metrics: { onRequest, allow: ['127.0.0.1'] } })
    t.after(() => srv.close())
    assert.deepEqual(await statuses(srv, '/server-status'), [401, 401])
    assert.deepEqual(await statuses(srv, '/server-status', { 'x-status-token': 'sesame' }), [200, 200])
    // Both given: the address check runs first, then the guard.
    assert.deepEqual(await statuses(srv, '/metrics', { 'x-status-token': 'sesame' }), [200, 403])
    assert.deepEqual(await statuses(srv, '/metrics'), [401, 403])
  })
})
