// A CPU-bound handler of a fixed cost: pbkdf2 with an iteration count the orchestrator
// calibrated to ~20 ms on this machine (BENCH_CPU_ITERATIONS; threads inherit the env).
import { pbkdf2Sync } from 'node:crypto'

const iterations = Number(process.env.BENCH_CPU_ITERATIONS ?? 20_000)

export default function cpu () {
  const key = pbkdf2Sync('fastify-mpm', 'bench-salt', iterations, 32, 'sha256')
  return { key: key.toString('hex', 0, 8) }
}
