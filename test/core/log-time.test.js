// A line a handler logs in its thread carries the time it was logged, not the time the main
// thread got round to writing it: checked on real pino JSON output, with the main event loop held
// busy while the line is in transit.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import mpm, { offload } from 'fastify-mpm'
import { pino } from 'pino'
import { send, fixture } from '../helpers/app.js'
import { tempDir, waitFor } from '../helpers/util.js'

const HOLD_MS = 400

for (const [format, timestamp, parse] of [
  ['epoch ms (pino default)', undefined, (time) => time],
  ['ISO (pino.stdTimeFunctions.isoTime)', pino.stdTimeFunctions.isoTime, (time) => Date.parse(time)]
]) {
  test(`a forwarded line keeps its handler's time: ${format}`, { timeout: 20_000 }, async (t) => {
    const raw = []
    const stream = { write: (chunk) => { raw.push(String(chunk)) } }
    const app = Fastify({ logger: { level: 'info', stream, ...(timestamp === undefined ? {} : { timestamp }) } })
    await app.register(mpm, { threads: 1 })
    app.get('/log', offload(fixture('log-time.js')))
    const url = await app.listen({ host: '127.0.0.1', port: 0 })
    const dir = tempDir()
    t.after(async () => { await app.close(); dir.remove() })

    const gate = dir.gate()
    const pending = send(`${url}/log?gate=${encodeURIComponent(gate.path)}`)
    await waitFor(() => raw.some((l) => l.includes('"incoming request"')), { what: 'the request to arrive' })
    // Let the handler log, and keep the main thread from writing that line for HOLD_MS.
    gate.open()
    const heldFrom = Date.now()
    while (Date.now() - heldFrom < HOLD_MS) { /* busy: the line waits in the channel */ }
    assert.equal((await pending).status, 200)

    const text = await waitFor(() => raw.find((l) => l.includes('logged in the thread')), { what: 'the forwarded line' })
    assert.equal(text.match(/"time":/g).length, 1, `one time key: ${text}`)
    const line = JSON.parse(text)
    const time = parse(line.time)
    assert.ok(time >= line.at && time - line.at < 50, `time ${line.time} is when the handler logged (${line.at})`)
    assert.ok(time < heldFrom + HOLD_MS - 100, 'not when the main thread wrote it')
  })
}
