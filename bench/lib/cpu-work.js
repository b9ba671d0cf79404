// The CPU route's work, shared by the handler and the calibration. `BENCH_CPU_KIND=js` swaps
// pbkdf2 (OpenSSL, native) for a pure-JavaScript loop, to tell apart what threads cost in
// general from what they cost a native library that takes locks shared by a process's threads.
import { pbkdf2Sync } from 'node:crypto'

export const kind = process.env.BENCH_CPU_KIND === 'js' ? 'js' : 'pbkdf2'

export function work (iterations) {
  if (kind === 'js') {
    let h = 0x811c9dc5
    for (let i = 0; i < iterations * 64; i++) h = Math.imul(h ^ i, 16777619)
    return (h >>> 0).toString(16)
  }
  return pbkdf2Sync('fastify-mpm', 'bench-salt', iterations, 32, 'sha256').toString('hex', 0, 8)
}
