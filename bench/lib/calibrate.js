// Finds the iteration count that costs ~`ms` of CPU on this machine, so the CPU route is
// "about 20 ms" whatever the CPU. Takes the fastest of several samples: on a shared machine
// the slow ones measure the neighbours, not the work.
import { performance } from 'node:perf_hooks'
import { work } from './cpu-work.js'

export function calibrateCpu (ms) {
  const probe = 5_000
  work(probe)
  let best = Infinity
  for (let i = 0; i < 7; i++) {
    const started = performance.now()
    work(probe)
    best = Math.min(best, performance.now() - started)
  }
  return Math.max(1, Math.round(probe * ms / best))
}
