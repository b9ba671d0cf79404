// The status page's byte figures, checked the same way for both adapters: the app under test
// serves GET /big (3000 bytes with a Content-Length), GET /chunked (3 × 2000 bytes, chunked, no
// Content-Length), GET /offloaded (an offloaded handler's JSON) and HEAD /big (no body), and
// mounts its status page at /server-status.
import assert from 'node:assert/strict'

export const BIG = 3000
export const CHUNK = 2000
export const CHUNKS = 3

export async function checkByteCounts (srv) {
  const first = await srv.request('/server-status?json')
  const before = first.json().totals.bytes

  const big = await srv.request('/big')
  assert.equal(big.body.length, BIG)
  assert.equal(big.headers['content-length'], String(BIG))
  const chunked = await srv.request('/chunked')
  assert.equal(chunked.body.length, CHUNK * CHUNKS)
  assert.equal(chunked.headers['content-length'], undefined, 'the chunked case has no Content-Length')
  assert.equal(chunked.headers['transfer-encoding'], 'chunked')
  const offloaded = await srv.request('/offloaded')
  assert.equal(offloaded.status, 200)
  const head = await srv.request('/big', { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.equal(head.body.length, 0)

  const second = await srv.request('/server-status?json')
  const { totals } = second.json()
  // The first ?json answer finished before the second was read, so it is counted too.
  const expected = before + first.body.length + BIG + CHUNK * CHUNKS + offloaded.body.length
  assert.equal(totals.bytes, expected, 'body bytes of every answer since the first read')
  assert.ok(Math.abs(totals.bytesPerReq - totals.bytes / totals.accesses) < 1e-9)

  // ?auto, as Apache tooling reads it: the same figures, plus the second ?json answer.
  const keys = parseAuto((await srv.request('/server-status?auto')).text)
  const bytes = expected + second.body.length
  const accesses = totals.accesses + 1
  assert.equal(Number(keys['Total Accesses']), accesses)
  assert.equal(Number(keys['Total kBytes']), Math.floor(bytes / 1024))
  assert.ok(Number(keys['Total kBytes']) >= 9, `Total kBytes ${keys['Total kBytes']}`)
  assert.ok(Math.abs(Number(keys.BytesPerReq) - bytes / accesses) < 0.001, `BytesPerReq ${keys.BytesPerReq}, expected ${bytes / accesses}`)
  assert.ok(Number(keys.BytesPerSec) > 0, `BytesPerSec ${keys.BytesPerSec}`)
}

function parseAuto (text) {
  return Object.fromEntries(text.trim().split('\n').map((line) => {
    const at = line.indexOf(': ')
    return [line.slice(0, at), line.slice(at + 2)]
  }))
}
