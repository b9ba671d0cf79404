// Finds the pbkdf2 iteration count that costs ~`ms` of CPU on this machine, so the CPU route is
// "about 20 ms" whatever the CPU. Takes the fastest of several samples: on a shared machine
// the slow ones measure the neighbours, not the work.
import { pbkdf2Sync } from 'node:crypto'
import { performance } from 'node:perf_hooks'

export function calibrateCpu (ms) {
  const probe = 5_000
  pbkdf2Sync('fastify-mpm', 'bench-salt', probe, 32, 'sha256')
  let best = Infinity
  for (let i = 0; i < 7; i++) {
    const started = performance.now()
    pbkdf2Sync('fastify-mpm', 'bench-salt', probe, 32, 'sha256')
    best = Math.min(best, performance.now() - started)
  }
  return Math.max(1, Math.round(probe * ms / best))
}
