// Streams across the thread boundary (issue 17), Fastify, over real HTTP: a returned Node Readable
// or web ReadableStream is streamed from its thread with the inline route's bytes and headers,
// with backpressure (a paused client holds the producer back), cancellation (a client that leaves
// ends the generator and frees the thread), faults (an error mid-stream cuts the socket and is
// logged once; before the first chunk it is a 500), time (a stalled stream times out, a slow one
// that progresses does not), req.signal, and `body: 'stream'` uploads (hashed in the thread,
// bodyLimit's 413, a 200 MiB upload without the server's RSS growing by 50 MiB).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { createHash } from 'node:crypto'
import { offload } from 'fastify-mpm'
import { fixture, startApp } from '../helpers/app.js'
import { download, leaveAfter, pausingReader, uploadToChild } from '../helpers/streams.js'
import { tempDir, waitFor, withDeadline } from '../helpers/util.js'

const streams = fixture('streams.js')
const handlers = await import(streams.href)
const MiB = 1024 * 1024
const q = (s) => encodeURIComponent(s)

/** The same exports inline (/inline/…) and offloaded (/off/…). */
function routes (app) {
  for (const name of ['node', 'web']) {
    app.get(`/inline/${name}`, async (req, reply) => handlers[name](req, reply))
    app.get(`/off/${name}`, offload(streams, { export: name }))
  }
  app.get('/off/signal', offload(streams, { export: 'waitForSignal' }))
  app.get('/off/whoami', offload(streams, { export: 'whoami' }))
}

async function sameAsInline (srv, name, query) {
  const inline = await download(`${srv.url}/inline/${name}?${query}`)
  const off = await download(`${srv.url}/off/${name}?${query}`)
  assert.equal(inline.complete, true, `inline ${name}?${query} ended`)
  assert.equal(off.complete, true, `offloaded ${name}?${query} ended`)
  assert.equal(off.status, inline.status, `${name}?${query}: status`)
  assert.equal(off.headers['content-type'], inline.headers['content-type'], `${name}?${query}: content-type as inline`)
  assert.equal(off.headers['x-export'], name)
  assert.equal(off.body.length, inline.body.length, `${name}?${query}: length`)
  assert.ok(off.body.equals(inline.body), `${name}?${query}: the same bytes`)
  return off
}

test('a streamed answer has the inline route\'s bytes, status and headers: Node Readable and web ReadableStream', { timeout: 60_000 }, async (t) => {
  const srv = await startApp({ threads: 2 }, routes)
  t.after(srv.close)
  for (const name of ['node', 'web']) {
    const big = await sameAsInline(srv, name, 'chunks=40&size=65536')
    assert.ok(big.body.equals(handlers.expectedBytes(40, 65536)))
    await sameAsInline(srv, name, 'chunks=300&size=1000')
    await sameAsInline(srv, name, 'chunks=0')
  }
  const typed = await sameAsInline(srv, 'node', 'chunks=3&size=10&status=206&type=text%2Fcsv')
  assert.equal(typed.status, 206)
  assert.equal(typed.headers['content-type'], 'text/csv')
  assert.equal(srv.app.mpm.stats().crashed, 0)
})

test('threads: 0 — a returned stream is sent as inline', { timeout: 30_000 }, async (t) => {
  const srv = await startApp({ threads: 0 }, routes)
  t.after(srv.close)
  for (const name of ['node', 'web']) await sameAsInline(srv, name, 'chunks=20&size=65536')
})

test('backpressure: a client that stops reading holds the producer back (what the server buffers stays within streamBuffer of inline)', { timeout: 120_000 }, async (t) => {
  const streamBuffer = MiB
  const srv = await startApp({ threads: 1, streamBuffer }, routes)
  const dir = tempDir()
  t.after(async () => { await srv.close(); dir.remove() })
  // The server's side of each download's connection: what left the process, as opposed to what
  // the kernel's socket buffers (autotuned, 4 to 16 MiB here) hold on the way to the client.
  const sockets = []
  srv.app.server.on('connection', (socket) => sockets.push(socket))
  const written = () => sockets.at(-1)?.bytesWritten ?? 0
  // 96 MiB on offer; the reader takes 8 MiB, stops, and measures how far the producer got.
  const query = (file) => `chunks=1536&size=65536&progress=${q(dir.file(file))}`
  const inline = await pausingReader(`${srv.url}/inline/node?${query('inline')}`, dir.file('inline'), { step: 8 * MiB, pauses: 3, written })
  const off = await pausingReader(`${srv.url}/off/node?${query('off')}`, dir.file('off'), { step: 8 * MiB, pauses: 3, written })
  t.diagnostic(`bytes the producer ran ahead of its socket while the client paused: inline ${inline.ahead.map((b) => (b / MiB).toFixed(2))} MiB, offloaded ${off.ahead.map((b) => (b / MiB).toFixed(2))} MiB`)
  assert.equal(off.status, 200)
  // What the thread boundary may add to inline's own buffering (Readable.from's 16 chunks, the
  // response's buffer): streamBuffer, plus the sink's 64 KiB buffer and one chunk in flight.
  const bound = Math.max(...inline.ahead) + streamBuffer + 256 * 1024
  for (const ahead of off.ahead) {
    assert.ok(ahead <= bound, `offloaded producer ran ${(ahead / MiB).toFixed(2)} MiB ahead of its socket; bound ${(bound / MiB).toFixed(2)} MiB`)
  }
  // The reader left: the producer is let go, and the thread serves again.
  await waitFor(() => srv.app.mpm.stats().busy === 0, { what: 'the thread free after the reader left' })
  assert.equal((await srv.request('/off/whoami')).status, 200)
})

test('a client that leaves mid-stream: the generator\'s finally runs within 100 ms (generous bound here), the thread is freed and kept', { timeout: 60_000 }, async (t) => {
  const srv = await startApp({ threads: 1 }, routes)
  const dir = tempDir()
  t.after(async () => { await srv.close(); dir.remove() })
  for (const name of ['node', 'web']) {
    const mark = dir.file(`mark-${name}`)
    const leaving = leaveAfter(`${srv.url}/off/${name}?chunks=100000&size=65536&delay=20&mark=${q(mark)}`, MiB)
    // While it streams, the task holds its thread: busy on the scoreboard.
    await waitFor(() => srv.app.mpm.stats().busy === 1, { what: 'the streaming task busy' })
    const { status, leftAt } = await leaving
    assert.equal(status, 200)
    const line = await waitFor(() => dir.read(`mark-${name}`), { timeoutMs: 5000, intervalMs: 2, what: `${name}: the generator's finally` })
    const ms = performance.now() - leftAt
    t.diagnostic(`${name}: finally ran ${ms.toFixed(0)} ms after the client left`)
    assert.ok(ms < 1000, `${name}: finally ran ${ms.toFixed(0)} ms after the client left (target 100 ms)`)
    const [, threadId] = /^finally (\d+)$/m.exec(line)
    await waitFor(() => srv.app.mpm.stats().busy === 0, { timeoutMs: 2000, what: `${name}: the thread free again` })
    // threads: 1 — the next request runs, on the same thread: it was freed, not replaced.
    const next = await withDeadline(srv.request('/off/whoami'), 5000, 'the next request')
    assert.equal(next.status, 200)
    assert.equal(String(next.json().threadId), threadId)
  }
  const stats = srv.app.mpm.stats()
  assert.equal(stats.crashed, 0)
  assert.equal(stats.timedOut, 0)
})

test('an error mid-stream destroys the socket, is logged once with route and module, and keeps the thread', { timeout: 30_000 }, async (t) => {
  const srv = await startApp({ threads: 1 }, routes)
  const dir = tempDir()
  t.after(async () => { await srv.close(); dir.remove() })
  for (const name of ['node', 'web']) {
    const mark = dir.file(`mark-${name}`)
    const res = await download(`${srv.url}/off/${name}?chunks=10&size=65536&failAt=3&mark=${q(mark)}`)
    assert.equal(res.status, 200, 'the headers went out with the first chunk')
    assert.equal(res.complete, false, 'the body is cut, not ended as if whole')
    assert.ok(res.body.length <= 3 * 65536)
    assert.ok(res.body.equals(handlers.expectedBytes(3, 65536).subarray(0, res.body.length)), 'what arrived is the stream\'s start')
    await waitFor(() => dir.read(`mark-${name}`), { what: 'the generator ended' })
    await new Promise((resolve) => setTimeout(resolve, 300)) // a second line, if any, would be here by now
    const lines = srv.logs.filter((l) => JSON.stringify(l).includes('export broke at chunk 3'))
    const mine = lines.filter((l) => JSON.stringify(l).includes(`/off/${name}`) || l.offload?.route === `GET /off/${name}`)
    assert.equal(mine.length, 1, `${name}: logged once:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`)
    assert.equal(mine[0].offload?.route, `GET /off/${name}`)
    assert.match(mine[0].offload?.module ?? '', /streams\.js$/)
    assert.ok(mine[0].level >= 40, 'logged as a warning or an error')
  }
  const stats = srv.app.mpm.stats()
  assert.equal(stats.crashed, 0, 'a stream\'s error is not a crash')
  assert.equal((await srv.request('/off/whoami')).status, 200)
})

test('an error before the first chunk goes through the error handler, as inline (500)', { timeout: 30_000 }, async (t) => {
  const srv = await startApp({ threads: 1 }, routes)
  t.after(srv.close)
  for (const name of ['node', 'web']) {
    const inline = await download(`${srv.url}/inline/${name}?failAt=0`)
    const off = await download(`${srv.url}/off/${name}?failAt=0`)
    assert.equal(inline.status, 500)
    assert.equal(off.status, 500)
    assert.deepEqual(JSON.parse(off.body), JSON.parse(inline.body))
    assert.equal(JSON.parse(off.body).message, 'export broke at chunk 0')
  }
  assert.equal(srv.app.mpm.stats().crashed, 0)
})

test('req.signal aborts when the client goes away (an ordinary handler polling it)', { timeout: 30_000 }, async (t) => {
  const srv = await startApp({ threads: 1 }, routes)
  const dir = tempDir()
  t.after(async () => { await srv.close(); dir.remove() })
  const mark = dir.file('signal')
  const req = http.get(`${srv.url}/off/signal?mark=${q(mark)}`, { agent: false })
  req.on('error', () => {})
  await waitFor(() => dir.read('signal')?.includes('started'), { what: 'the handler started' })
  const left = performance.now()
  req.destroy()
  await waitFor(() => dir.read('signal')?.includes('aborted'), { timeoutMs: 5000, what: 'req.signal aborted' })
  t.diagnostic(`req.signal aborted ${(performance.now() - left).toFixed(0)} ms after the client left`)
  assert.doesNotMatch(dir.read('signal'), /never aborted/)
  await waitFor(() => srv.app.mpm.stats().busy === 0, { what: 'the thread free' })
  assert.equal((await srv.request('/off/whoami')).status, 200)
})

test('taskTimeout: a stream that makes no progress for taskTimeout is ended and counted as a timeout; one that progresses runs on', { timeout: 60_000 }, async (t) => {
  const srv = await startApp({ threads: 1, taskTimeout: 600 }, routes)
  t.after(srv.close)
  // 15 chunks 100 ms apart: 1.5 s in all, never 600 ms without a chunk.
  const slow = await download(`${srv.url}/off/node?chunks=15&size=1024&delay=100`)
  assert.equal(slow.complete, true)
  assert.ok(slow.body.equals(handlers.expectedBytes(15, 1024)))
  assert.equal(srv.app.mpm.stats().timedOut, 0)

  const started = performance.now()
  const stalled = await download(`${srv.url}/off/node?chunks=10&size=1024&stallAfter=2`, { timeoutMs: 10_000 })
  const ms = performance.now() - started
  assert.equal(stalled.status, 200)
  assert.equal(stalled.complete, false, 'a stalled stream is cut, not ended as if whole')
  assert.ok(stalled.body.equals(handlers.expectedBytes(2, 1024)))
  assert.ok(ms >= 500 && ms < 5000, `ended after ${ms.toFixed(0)} ms (taskTimeout 600)`)
  await waitFor(() => srv.app.mpm.stats().timedOut === 1, { what: 'counted as a timeout' })
  await waitFor(() => srv.app.mpm.stats().busy === 0, { what: 'nothing busy' })
  assert.equal((await srv.request('/off/whoami')).status, 200)
})

/** POSTs `body` to `url` in 64 KiB writes, with a content-length or chunked. */
function post (url, body, { chunked = false } = {}) {
  return new Promise((resolve, reject) => {
    const headers = { 'content-type': 'application/octet-stream' }
    if (!chunked) headers['content-length'] = String(body.length)
    const req = http.request(url, { method: 'POST', agent: false, headers }, (res) => {
      const parts = []
      res.on('data', (c) => parts.push(c))
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(parts).toString() }))
    })
    // The server may answer 413 and close before the whole body is written.
    req.on('error', (err) => { if (err.code === 'EPIPE' || err.code === 'ECONNRESET') resolve({ status: 'reset', text: err.code }); else reject(err) })
    for (let i = 0; i < body.length; i += 65536) req.write(body.subarray(i, i + 65536))
    req.end()
  })
}

test('body: \'stream\': req.body is the raw body as a Readable in the thread; bodyLimit answers 413', { timeout: 30_000 }, async (t) => {
  const srv = await startApp({ threads: 1 }, (app) => {
    app.post('/upload', { bodyLimit: MiB }, offload(streams, { export: 'hashBody', body: 'stream' }))
    app.get('/off/whoami', offload(streams, { export: 'whoami' }))
  })
  t.after(srv.close)
  const small = Buffer.alloc(512 * 1024, 7)
  for (const chunked of [false, true]) {
    const ok = await post(`${srv.url}/upload`, small, { chunked })
    assert.equal(ok.status, 200, ok.text)
    assert.deepEqual(JSON.parse(ok.text), { bytes: small.length, sha256: createHash('sha256').update(small).digest('hex'), readable: true })
  }
  // JSON is not parsed either: the handler sees the bytes as sent.
  const json = Buffer.from('{"not":"parsed"}')
  const raw = await srv.request('/upload', { method: 'POST', headers: { 'content-type': 'application/json' }, body: json })
  assert.equal(raw.status, 200, raw.text)
  assert.equal(raw.json().sha256, createHash('sha256').update(json).digest('hex'))

  const big = Buffer.alloc(2 * MiB, 1)
  const declared = await post(`${srv.url}/upload`, big)
  assert.equal(declared.status, 413, `declared length past bodyLimit: ${declared.text}`)
  const chunked = await post(`${srv.url}/upload`, big, { chunked: true })
  assert.equal(chunked.status, 413, `chunked body past bodyLimit: ${chunked.text}`)
  await waitFor(() => srv.app.mpm.stats().busy === 0, { what: 'nothing busy' })
  assert.equal((await srv.request('/off/whoami')).status, 200)
  assert.equal(srv.app.mpm.stats().crashed, 0)
})

test('a 200 MiB streamed upload is hashed in the thread with the main thread\'s memory growing less than 50 MiB (the process\'s RSS less than 100)', { timeout: 180_000 }, async (t) => {
  const r = await uploadToChild('fastify', 200)
  assert.equal(r.status, 200, JSON.stringify(r.answer))
  assert.equal(r.answer.bytes, r.bytes)
  assert.equal(r.answer.sha256, r.sha256)
  const growth = r.peak - r.rssBefore
  const mainGrowth = r.mainPeak - r.mainBefore
  t.diagnostic(`server RSS ${(r.rssBefore / MiB).toFixed(0)} MiB before, peak ${(r.peak / MiB).toFixed(0)} MiB during the upload (+${(growth / MiB).toFixed(1)} MiB); main thread's heap and ArrayBuffers +${(mainGrowth / MiB).toFixed(1)} MiB`)
  // The main thread's own memory (a process's RSS also holds the thread's heap and the garbage
  // both have yet to collect: V8 collects ArrayBuffers every ~64 MiB of them per thread).
  assert.ok(mainGrowth < 50 * MiB, `the main thread's memory grew ${(mainGrowth / MiB).toFixed(1)} MiB`)
  // The whole process, thread included: the main thread's share is at most this.
  // And the whole process: far below the body, so no side holds it whole.
  assert.ok(growth < 100 * MiB, `RSS grew ${(growth / MiB).toFixed(1)} MiB`)
})
