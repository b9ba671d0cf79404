// A CSV export of ?rows= rows, made in a worker thread in 64 KB pieces: the generator runs only
// as fast as the client reads (backpressure crosses the thread boundary), so a huge export holds
// a few pieces in memory, not the file. When the client goes away the stream is
// destroyed (the generator's `finally` runs); `req.signal` says so to code between yields too.
import { Readable } from 'node:stream'

export default function exportCsv (req, reply) {
  reply.type('text/csv; charset=utf-8')
  reply.header('content-disposition', 'attachment; filename="export.csv"')
  return Readable.from(rows(req.query.rows ?? 1000, req.signal, req.log))
}

function * rows (count, signal, log) {
  let sent = 0
  try {
    yield 'id,customer,amount\n'
    let piece = ''
    for (let i = 1; i <= count; i++) {
      piece += `${i},customer-${i % 9973},${((i * 7919) % 1_000_000 / 100).toFixed(2)}\n`
      if (piece.length >= 64 * 1024) {
        // Client gone or task timed out: stop making rows nobody will read.
        if (signal.aborted) return
        yield piece
        sent = i
        piece = ''
      }
    }
    if (piece !== '') yield piece
    sent = count
  } finally {
    if (sent < count) log.info({ sent, count }, 'export stopped early: the client went away')
  }
}
