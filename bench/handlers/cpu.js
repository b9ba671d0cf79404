// A CPU-bound handler of a fixed cost: pbkdf2 (or, with BENCH_CPU_KIND=js, a JavaScript loop)
// with an iteration count the orchestrator calibrated on this machine (BENCH_CPU_ITERATIONS;
// threads inherit the env).
import { work } from '../lib/cpu-work.js'

const iterations = Number(process.env.BENCH_CPU_ITERATIONS ?? 20_000)

export default function cpu () {
  return { key: work(iterations) }
}
