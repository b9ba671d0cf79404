// Connections as Apache's event MPM shows them (ConnsTotal, ConnsAsyncKeepAlive, ConnsAsyncWriting):
// a cluster started with the CLI holds 1,000 idle keep-alive connections with no thread busy,
// and a slow reader's connection shows as writing.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import { offload } from 'fastify-mpm'
import { send, startApp } from '../helpers/app.js'
import { waitFor, withDeadline } from '../helpers/util.js'
import { runCli } from '../fixtures/cluster/helpers.js'

const STATUS_APP = fileURLToPath(new URL('../fixtures/status/app.js', import.meta.url))
const handlers = new URL('../fixtures/status/handlers.js', import.meta.url)
const HELD = 1000

/** Opens a raw keep-alive connection, sends one GET and resolves once the whole answer is in. */
function keepAliveConnection (port, path = '/pid') {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port })
    let received = ''
    const fail = (err) => { socket.destroy(); reject(err) }
    socket.setTimeout(15_000, () => fail(new Error('no answer within 15 s')))
    socket.once('error', fail)
    socket.once('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`))
    socket.on('data', function onData (chunk) {
      received += chunk.toString('latin1')
      const end = received.indexOf('\r\n\r\n')
      if (end === -1) return
      const length = Number(/content-length: (\d+)/i.exec(received.slice(0, end))?.[1] ?? 0)
      if (received.length < end + 4 + length) return
      socket.off('data', onData)
      socket.setTimeout(0)
      assert.match(received, /^HTTP\/1\.1 200/)
      assert.doesNotMatch(received.slice(0, end), /connection: close/i)
      resolve(socket)
    })
  })
}

function parseAuto (text) {
  return Object.fromEntries(text.trimEnd().split('\n').map((line) => {
    const at = line.indexOf(': ')
    return [line.slice(0, at), line.slice(at + 2)]
  }))
}

describe(`a CLI cluster holding ${HELD} idle keep-alive connections`, { timeout: 120_000 }, () => {
  let cli
  let url
  const sockets = []
  before(async () => {
    cli = runCli(['start', STATUS_APP, '--processes', '2', '--threads', '2', '--port', '0'])
    url = await cli.listening()
    const port = Number(new URL(url).port)
    // In batches, so the accept queue and the test stay bounded.
    for (let i = 0; i < HELD; i += 100) {
      sockets.push(...await withDeadline(Promise.all(Array.from({ length: 100 }, () => keepAliveConnection(port))), 30_000, 'opening 100 connections'))
    }
  })
  after(async () => {
    for (const socket of sockets) socket.destroy()
    cli?.proc.kill('SIGTERM')
    await withDeadline(cli?.exited ?? Promise.resolve(), 15_000, 'the CLI exiting').catch(() => {})
    cli?.kill()
  })

  test('?json, ?auto and /metrics count them: total ≥ 1000, keep-alive ≥ 990, no thread busy', async () => {
    const status = await waitFor(async () => {
      const s = (await send(`${url}/server-status?json`, { reset: true })).json()
      return s.totals.answered === 2 && s.totals.connections.keepAlive >= HELD - 10 ? s : null
    }, { timeoutMs: 15_000, what: 'the held connections to show as keep-alive' })
    const c = status.totals.connections
    assert.ok(c.total >= HELD, `total ${c.total}`)
    assert.ok(c.keepAlive >= HELD - 10, `keep-alive ${c.keepAlive}`)
    assert.equal(c.keepAlive + c.writing + c.closing + c.active, c.total)
    assert.equal(status.totals.busy, 0, 'holding connections occupies no thread')
    assert.equal(status.processes.reduce((n, p) => n + p.connections.total, 0), c.total, 'per process, summed')
    assert.ok(status.processes.every((p) => p.connections.total > 0), 'round-robin spread them over both processes')
    assert.ok(status.processes.every((p) => p.memory.rss > 0))

    const auto = parseAuto((await send(`${url}/server-status/?auto`, { reset: true })).text)
    assert.ok(Number(auto.ConnsTotal) >= HELD, `ConnsTotal ${auto.ConnsTotal}`)
    assert.ok(Number(auto.ConnsAsyncKeepAlive) >= HELD - 10, `ConnsAsyncKeepAlive ${auto.ConnsAsyncKeepAlive}`)
    assert.equal(auto.ConnsAsyncClosing, '0')
    assert.equal(auto.Processes, '2')
    assert.equal(auto.Stopping, '0')
    assert.equal(auto.BusyWorkers, '0')

    const metrics = (await send(`${url}/metrics`, { reset: true })).text
    const keepAlive = Number(/^fastify_mpm_connections\{state="keepalive"\} (\d+)$/m.exec(metrics)?.[1])
    assert.ok(keepAlive >= HELD - 10, `fastify_mpm_connections{state="keepalive"} ${keepAlive}`)
    assert.match(metrics, /^fastify_mpm_process_resident_memory_bytes\{pid="\d+"\} \d+/m)

    const html = (await send(`${url}/server-status`, { reset: true })).text
    assert.match(html, /connections \/ keep-alive/)
    assert.match(html, /<th title="idle keep-alive connections">keep-alive<\/th>/)
  })
})

test('a reader that stops reading leaves its connection writing; it is keep-alive again once read', { timeout: 60_000 }, async (t) => {
  const big = Buffer.alloc(32 * 1024 * 1024, 'x')
  const srv = await startApp({ threads: 1, status: true }, (app) => {
    app.get('/big', async (_request, reply) => reply.type('application/octet-stream').send(big))
    app.get('/quick', offload(handlers))
  })
  t.after(() => srv.close())
  const socket = connect({ host: '127.0.0.1', port: Number(new URL(srv.url).port) })
  t.after(() => socket.destroy())
  await new Promise((resolve) => socket.once('connect', resolve))
  socket.pause()
  socket.write('GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
  const writing = await waitFor(async () => {
    const c = (await srv.request('/server-status?json')).json().totals.connections
    return c.writing >= 1 ? c : null
  }, { timeoutMs: 10_000, what: 'a connection in the writing state' })
  assert.equal(writing.writing, 1)
  // Read it all: the connection is idle keep-alive again, nothing left writing.
  let got = 0
  socket.on('data', (chunk) => { got += chunk.length })
  socket.resume()
  await waitFor(() => got >= big.length, { timeoutMs: 20_000, what: 'the whole body' })
  const idle = await waitFor(async () => {
    const c = (await srv.request('/server-status?json')).json().totals.connections
    return c.writing === 0 ? c : null
  }, { timeoutMs: 10_000, what: 'nothing left writing' })
  assert.ok(idle.keepAlive >= 1)
})
