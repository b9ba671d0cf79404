// Clients for the streaming tests (issue 17), over raw node:http so that a test controls reading:
// a download that keeps every byte and says whether the body ended or was cut, a reader that
// stops reading to see how far a producer runs ahead of it, a client that leaves mid-stream,
// and a 200 MB upload to a server in a child process whose RSS is measured there.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import http from 'node:http'
import { fileURLToPath } from 'node:url'
import { waitFor, withDeadline } from './util.js'

/**
 * GET `url`; resolves { status, headers, body, complete } when the response ends or is cut
 * (`complete` false: the socket was destroyed before the body's end).
 */
export function download (url, { timeoutMs = 30_000 } = {}) {
  return withDeadline(new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      const parts = []
      let settled = false
      const done = (complete) => {
        if (settled) return
        settled = true
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(parts), complete })
      }
      res.on('data', (chunk) => parts.push(chunk))
      res.on('end', () => done(true))
      res.on('aborted', () => done(false))
      res.on('error', () => done(false))
      res.on('close', () => done(res.complete))
    })
    req.on('error', reject)
  }), timeoutMs, `download of ${url}`)
}

/** The bytes a producer says it has yielded (a fixed-width number rewritten in place), 0 before its first. */
export function progressOf (file) {
  if (!existsSync(file)) return 0
  const n = Number(readFileSync(file, 'utf8').trim())
  return Number.isFinite(n) ? n : 0
}

/**
 * Reads `url` in steps: `step` bytes, then stops reading until the producer's progress (from
 * `progressFile`) has not moved for `settleMs`, and records how far ahead of the client it got.
 * Returns { ahead: [bytes per pause], received, status } after `pauses` pauses; the request is
 * then destroyed.
 */
/**
 * `written`: how many bytes the server has written to the download's socket; then `ahead` counts
 * what the producer got ahead of the socket (what the server buffers itself), not of the client
 * (which adds the kernel's socket buffers, whose autotuned size varies from run to run).
 */
export function pausingReader (url, progressFile, { step = 4 * 1024 * 1024, pauses = 3, settleMs = 400, timeoutMs = 60_000, written } = {}) {
  return withDeadline(new Promise((resolve, reject) => {
    const ahead = []
    const req = http.get(url, { agent: false }, (res) => {
      let received = 0
      let nextPause = step
      res.on('data', async (chunk) => {
        received += chunk.length
        if (received < nextPause) return
        res.pause()
        nextPause += step
        let last = -1
        let stable = 0
        try {
          // Settled: the producer's count stopped moving (held back) or it reached the end.
          await waitFor(async () => {
            const now = progressOf(progressFile)
            stable = now === last ? stable + 50 : 0
            last = now
            await new Promise((resolve) => setTimeout(resolve, 50))
            return stable >= settleMs
          }, { timeoutMs: 20_000, intervalMs: 1, what: 'the producer to stop getting ahead' })
        } catch (err) {
          req.destroy()
          reject(err)
          return
        }
        ahead.push(last - (written === undefined ? received : written()))
        if (ahead.length >= pauses) {
          req.destroy()
          resolve({ ahead, received, status: res.statusCode })
          return
        }
        res.resume()
      })
      res.on('end', () => resolve({ ahead, received, status: res.statusCode }))
    })
    req.on('error', (err) => { if (err.code !== 'ECONNRESET') reject(err) })
  }), timeoutMs, `pausing reader of ${url}`)
}

/** GET `url`, read `bytes` of the body, then destroy the connection; resolves the time it left (performance.now()). */
export function leaveAfter (url, bytes) {
  return withDeadline(new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let received = 0
      res.on('data', (chunk) => {
        received += chunk.length
        if (received < bytes || req.destroyed) return
        req.destroy()
        resolve({ status: res.statusCode, leftAt: performance.now() })
      })
    })
    req.on('error', (err) => { if (!req.destroyed) reject(err) })
  }), 30_000, `a client reading ${bytes} bytes of ${url}`)
}

/** GET `url` and leave as soon as the response's headers arrive, or after `ms` without them. */
export function leaveWithoutReading (url, ms) {
  const req = http.get(url, { agent: false })
  req.on('error', () => {})
  setTimeout(() => req.destroy(), ms)
}

/**
 * Uploads `mb` MiB (made on the fly: no buffer of that size anywhere) with a declared length to
 * `fixtures/streams/upload-server.js <framework>` in a child process, and measures the child's
 * RSS: resolves { status, answer, sha256 (the client's), bytes, rssBefore, peak }.
 */
export async function uploadToChild (framework, mb) {
  const script = fileURLToPath(new URL('../fixtures/streams/upload-server.js', import.meta.url))
  const child = spawn(process.execPath, [script, framework], { stdio: ['pipe', 'pipe', 'inherit'] })
  try {
    const port = await withDeadline(new Promise((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (chunk) => {
        out += chunk
        const line = out.split('\n').find((l) => l.startsWith('{"port"'))
        if (line !== undefined) resolve(JSON.parse(line).port)
      })
      child.once('exit', (code) => reject(new Error(`upload server exited with ${code} before listening`)))
    }), 30_000, 'the upload server to listen')
    const origin = `http://127.0.0.1:${port}`
    const getJson = async (path) => JSON.parse((await download(origin + path)).body.toString())
    // Warm: the thread started and the module loaded, so the measured upload pays only for itself.
    const warm = await upload(origin, 1)
    if (warm.status !== 200) return warm
    const { rss: rssBefore, main: mainBefore } = await getJson('/rss?reset=1')
    const result = await upload(origin, mb)
    const { peak, mainPeak } = await getJson('/rss')
    return { ...result, rssBefore, peak, mainBefore, mainPeak }
  } finally {
    child.stdin.end()
    const exited = new Promise((resolve) => child.once('exit', resolve))
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000)
    if (child.exitCode === null) await exited
    clearTimeout(kill)
  }
}

function upload (origin, mb) {
  const size = 64 * 1024
  const total = mb * 1024 * 1024
  const hash = createHash('sha256')
  return withDeadline(new Promise((resolve, reject) => {
    const req = http.request(`${origin}/hash`, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(total) }
    }, (res) => {
      const parts = []
      res.on('data', (chunk) => parts.push(chunk))
      res.on('end', () => {
        const text = Buffer.concat(parts).toString()
        let answer
        try { answer = JSON.parse(text) } catch { answer = text }
        resolve({ status: res.statusCode, answer, sha256: hash.digest('hex'), bytes: total })
      })
    })
    req.on('error', reject)
    let sent = 0
    let i = 0
    const write = () => {
      while (sent < total) {
        const chunk = Buffer.alloc(Math.min(size, total - sent), i++ & 255)
        chunk.writeUInt32BE(i, 0)
        hash.update(chunk)
        sent += chunk.length
        if (!req.write(chunk)) {
          req.once('drain', write)
          return
        }
      }
      req.end()
    }
    write()
  }), 120_000, `an upload of ${mb} MiB`)
}
