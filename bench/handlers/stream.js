// Streamed exports for the stream scenario (issue 17): a CSV-ish body made 64 KiB at a time by a
// generator, returned as `Readable.from(generator())`, the way a user writes an export. The same
// functions run inline (bench/servers/stream.js calls them from the route) and offloaded.
// - csv: cheap chunks (a copy of a prepared block, its first row numbered): what is measured is
//   moving bytes from the generator to the socket, not making them. ?mb= sets the size.
// - cpuCsv: each chunk first costs CPU (pbkdf2 or a JS loop, BENCH_CPU_ITERATIONS calibrated by
//   the orchestrator to --stream-cpu-ms): a report whose rows take work to format. ?chunks=.
import { Readable } from 'node:stream'
import { work } from '../lib/cpu-work.js'

const CHUNK = 64 * 1024
const iterations = Number(process.env.BENCH_CPU_ITERATIONS ?? 1000)

const BLOCK = (() => {
  const rows = []
  let size = 0
  for (let i = 0; size < CHUNK; i++) {
    const row = `${String(i).padStart(10, '0')},customer-${i % 997},${(i * 37) % 100_000}.${i % 100},2026-01-${String(i % 28 + 1).padStart(2, '0')}\n`
    rows.push(row)
    size += row.length
  }
  return Buffer.from(rows.join('')).subarray(0, CHUNK)
})()

function * chunks (count, cpu) {
  for (let i = 0; i < count; i++) {
    if (cpu) work(iterations)
    // A Buffer of its own per chunk (64 KiB is never pooled): a stream may move it to another thread.
    const chunk = Buffer.allocUnsafe(CHUNK)
    BLOCK.copy(chunk)
    chunk.write(String(i).padStart(10, '0'), 0, 'latin1')
    yield chunk
  }
}

export function csv (req, reply) {
  reply.type('text/csv')
  return Readable.from(chunks(Math.max(1, Math.round(Number(req.query.mb ?? 16) * 16)), false))
}

export function cpuCsv (req, reply) {
  reply.type('text/csv')
  return Readable.from(chunks(Math.max(1, Number(req.query.chunks ?? 16)), true))
}
