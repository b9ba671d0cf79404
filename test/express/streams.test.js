// Streams across the thread boundary (issue 17), Express 5 and 4, over real HTTP: a returned Node
// Readable or web ReadableStream is piped to `res` with the bytes and headers an inline handler
// piping the same stream sends; backpressure, a client leaving, an error mid-stream or before the
// first chunk, req.signal, and `body: 'stream'` uploads (a body parser in front of the route is a
// clear 500 naming the route; a 200 MiB upload without the server's RSS growing by 50 MiB).
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { fixture } from '../helpers/app.js'
import { download, leaveAfter, pausingReader, uploadToChild } from '../helpers/streams.js'
import { tempDir, waitFor, withDeadline } from '../helpers/util.js'
import { EXPRESSES, startExpress } from './helpers.js'

const streams = fixture('streams.js')
const handlers = await import(streams.href)
const MiB = 1024 * 1024
const q = (s) => encodeURIComponent(s)

/** What an Express user writes inline: the handler's stream piped to res (the reply calls mapped by hand). */
function inline (name) {
  return (req, res, next) => {
    const reply = {
      code (n) { res.status(n); return this },
      header (k, v) { res.setHeader(k, v); return this },
      type (v) { res.setHeader('content-type', v); return this }
    }
    const value = handlers[name](req, reply)
    const stream = value instanceof Readable ? value : Readable.fromWeb(value)
    stream.once('error', (err) => { if (res.headersSent) res.destroy(); else next(err) })
    res.once('close', () => stream.destroy())
    stream.pipe(res)
  }
}

function routes (app, mpm) {
  for (const name of ['node', 'web']) {
    app.get(`/inline/${name}`, inline(name))
    app.get(`/off/${name}`, mpm.offload(streams, { export: name }))
  }
  app.get('/off/signal', mpm.offload(streams, { export: 'waitForSignal' }))
  app.get('/off/whoami', mpm.offload(streams, { export: 'whoami' }))
  app.post('/upload', mpm.offload(streams, { export: 'hashBody', body: 'stream' }))
  // A body parser in front of a body: 'stream' route: the mistake the adapter must name.
  app.post('/parsed-first', (req, res, next) => { req.on('data', () => {}); req.on('end', () => { req._body = true; next() }) },
    mpm.offload(streams, { export: 'hashBody', body: 'stream' }))
  app.use((err, req, res, next) => {
    if (res.headersSent) return res.destroy()
    res.status(err.status ?? 500).json({ message: err.message, code: err.code })
  })
}

async function sameAsInline (srv, name, query) {
  const inlineRes = await download(`${srv.url}/inline/${name}?${query}`)
  const off = await download(`${srv.url}/off/${name}?${query}`)
  assert.equal(inlineRes.complete, true)
  assert.equal(off.complete, true, `offloaded ${name}?${query} ended`)
  assert.equal(off.status, inlineRes.status)
  assert.equal(off.headers['content-type'], inlineRes.headers['content-type'], `${name}?${query}: content-type as inline`)
  assert.equal(off.headers['x-export'], name)
  assert.ok(off.body.equals(inlineRes.body), `${name}?${query}: the same bytes`)
  return off
}

for (const [label, express] of EXPRESSES) {
  describe(`${label}: streams`, { timeout: 120_000 }, () => {
    test('a streamed answer has the inline handler\'s bytes, status and headers: Node Readable and web ReadableStream', async (t) => {
      const srv = await startExpress(express, { threads: 2 }, routes)
      t.after(srv.close)
      for (const name of ['node', 'web']) {
        const big = await sameAsInline(srv, name, 'chunks=40&size=65536')
        assert.ok(big.body.equals(handlers.expectedBytes(40, 65536)))
        await sameAsInline(srv, name, 'chunks=300&size=1000')
        await sameAsInline(srv, name, 'chunks=0')
      }
      assert.equal((await sameAsInline(srv, 'node', 'chunks=3&size=10&status=206')).status, 206)
    })

    test('threads: 0 — a returned stream is sent as inline', async (t) => {
      const srv = await startExpress(express, { threads: 0 }, routes)
      t.after(srv.close)
      for (const name of ['node', 'web']) await sameAsInline(srv, name, 'chunks=20&size=65536')
    })

    test('an error mid-stream destroys the socket and is logged once with the route; before the first chunk it reaches next(err)', async (t) => {
      const srv = await startExpress(express, { threads: 1 }, routes)
      const dir = tempDir()
      t.after(async () => { await srv.close(); dir.remove() })
      for (const name of ['node', 'web']) {
        const mark = dir.file(`mark-${name}`)
        const res = await download(`${srv.url}/off/${name}?chunks=10&size=65536&failAt=3&mark=${q(mark)}`)
        assert.equal(res.status, 200)
        assert.equal(res.complete, false, 'the body is cut')
        assert.ok(res.body.equals(handlers.expectedBytes(3, 65536).subarray(0, res.body.length)))
        await waitFor(() => dir.read(`mark-${name}`), { what: 'the generator ended' })
        await new Promise((resolve) => setTimeout(resolve, 300))
        const lines = srv.logs.filter((l) => JSON.stringify(l).includes('export broke at chunk 3') && l.offload?.route === `GET /off/${name}`)
        assert.equal(lines.length, 1, `logged once:\n${srv.logs.lines.map((l) => JSON.stringify(l)).join('\n')}`)
        assert.match(lines[0].offload.module, /streams\.js$/)

        const before = await download(`${srv.url}/off/${name}?failAt=0`)
        assert.equal(before.status, 500)
        assert.equal(JSON.parse(before.body).message, 'export broke at chunk 0')
      }
      assert.equal(srv.mpm.stats().crashed, 0)
      assert.equal((await srv.request('/off/whoami')).status, 200)
    })

    test('a client that leaves mid-stream: finally runs promptly, the thread is freed and kept; req.signal aborts', async (t) => {
      const srv = await startExpress(express, { threads: 1 }, routes)
      const dir = tempDir()
      t.after(async () => { await srv.close(); dir.remove() })
      for (const name of ['node', 'web']) {
        const mark = dir.file(`mark-${name}`)
        const leaving = leaveAfter(`${srv.url}/off/${name}?chunks=100000&size=65536&delay=20&mark=${q(mark)}`, MiB)
        await waitFor(() => srv.mpm.stats().busy === 1, { what: 'the streaming task busy' })
        const { leftAt } = await leaving
        const line = await waitFor(() => dir.read(`mark-${name}`), { timeoutMs: 5000, intervalMs: 2, what: 'the generator\'s finally' })
        const ms = performance.now() - leftAt
        t.diagnostic(`${name}: finally ran ${ms.toFixed(0)} ms after the client left`)
        assert.ok(ms < 1000, `finally ran ${ms.toFixed(0)} ms after the client left (target 100 ms)`)
        await waitFor(() => srv.mpm.stats().busy === 0, { timeoutMs: 2000, what: 'the thread free again' })
        const next = await withDeadline(srv.request('/off/whoami'), 5000, 'the next request')
        assert.equal(String(next.json().threadId), /^finally (\d+)$/m.exec(line)[1], 'the same thread: freed, not replaced')
      }

      const mark = dir.file('signal')
      const req = http.get(`${srv.url}/off/signal?mark=${q(mark)}`, { agent: false })
      req.on('error', () => {})
      await waitFor(() => dir.read('signal')?.includes('started'), { what: 'the handler started' })
      req.destroy()
      await waitFor(() => dir.read('signal')?.includes('aborted'), { timeoutMs: 5000, what: 'req.signal aborted' })
      assert.doesNotMatch(dir.read('signal'), /never aborted/)
      assert.equal(srv.mpm.stats().crashed, 0)
    })

    test('backpressure: a client that stops reading holds the producer back', async (t) => {
      const streamBuffer = MiB
      const srv = await startExpress(express, { threads: 1, streamBuffer }, routes)
      const dir = tempDir()
      t.after(async () => { await srv.close(); dir.remove() })
      // Measured against the server's side of the connection, not the client's: the kernel's
      // socket buffers between them are autotuned and vary from run to run.
      const sockets = []
      srv.server.on('connection', (socket) => sockets.push(socket))
      const written = () => sockets.at(-1)?.bytesWritten ?? 0
      const query = (file) => `chunks=1536&size=65536&progress=${q(dir.file(file))}`
      const base = await pausingReader(`${srv.url}/inline/node?${query('inline')}`, dir.file('inline'), { step: 8 * MiB, pauses: 3, written })
      const off = await pausingReader(`${srv.url}/off/node?${query('off')}`, dir.file('off'), { step: 8 * MiB, pauses: 3, written })
      t.diagnostic(`ahead of the socket while the client paused: inline ${base.ahead.map((b) => (b / MiB).toFixed(2))} MiB, offloaded ${off.ahead.map((b) => (b / MiB).toFixed(2))} MiB`)
      const bound = Math.max(...base.ahead) + streamBuffer + 256 * 1024
      for (const ahead of off.ahead) {
        assert.ok(ahead <= bound, `ran ${(ahead / MiB).toFixed(2)} MiB ahead of its socket; bound ${(bound / MiB).toFixed(2)} MiB`)
      }
      await waitFor(() => srv.mpm.stats().busy === 0, { what: 'the thread free after the reader left' })
    })

    test('body: \'stream\': the raw body hashed in the thread; a body parser in front is a 500 naming the route', async (t) => {
      const srv = await startExpress(express, { threads: 1 }, routes)
      t.after(srv.close)
      const body = Buffer.alloc(3 * MiB + 17, 9)
      const ok = await srv.request('/upload', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body })
      assert.equal(ok.status, 200, ok.text)
      assert.deepEqual(ok.json(), { bytes: body.length, sha256: createHash('sha256').update(body).digest('hex'), readable: true })
      const json = Buffer.from('{"not":"parsed"}')
      const raw = await srv.request('/upload', { method: 'POST', headers: { 'content-type': 'application/json' }, body: json })
      assert.equal(raw.json().sha256, createHash('sha256').update(json).digest('hex'))

      const consumed = await srv.request('/parsed-first', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(1000) })
      assert.equal(consumed.status, 500)
      assert.match(consumed.json().message, /POST \/parsed-first/)
      assert.equal((await srv.request('/off/whoami')).status, 200)
    })
  })
}

test('Express: a 200 MiB streamed upload is hashed in the thread with the main thread\'s memory growing less than 50 MiB (the process\'s RSS less than 100)', { timeout: 180_000 }, async (t) => {
  const r = await uploadToChild('express', 200)
  assert.equal(r.status, 200, JSON.stringify(r.answer))
  assert.equal(r.answer.bytes, r.bytes)
  assert.equal(r.answer.sha256, r.sha256)
  const growth = r.peak - r.rssBefore
  const mainGrowth = r.mainPeak - r.mainBefore
  t.diagnostic(`server RSS ${(r.rssBefore / MiB).toFixed(0)} MiB before, peak ${(r.peak / MiB).toFixed(0)} MiB during the upload (+${(growth / MiB).toFixed(1)} MiB); main thread's heap and ArrayBuffers +${(mainGrowth / MiB).toFixed(1)} MiB`)
  assert.ok(mainGrowth < 50 * MiB, `the main thread's memory grew ${(mainGrowth / MiB).toFixed(1)} MiB`)
  assert.ok(growth < 100 * MiB, `RSS grew ${(growth / MiB).toFixed(1)} MiB`)
})
