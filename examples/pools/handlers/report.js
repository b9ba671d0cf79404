// A slow report: holds its thread `?ms=` ms (default 1000, at most 5000), as a PDF render would.
const cell = new Int32Array(new SharedArrayBuffer(4))

export default function report (req) {
  const ms = Math.min(Number(req.query.ms ?? 1000) || 0, 5000)
  Atomics.wait(cell, 0, 0, ms)
  return { report: 'done', ms }
}
