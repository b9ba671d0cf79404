// Where offload()'s CPU per request goes (not in the default run: `--only breakdown`). Each
// variant adds or removes one ingredient between a bare tinypool.run() with useAtomics: false
// and fastify-mpm's full route dispatch; see bench/FINDINGS.md.
import { dispatchColumns, dispatchMeasure, dispatchWarmup } from './dispatch.js'

const server = (name) => new URL(`../servers/${name}.js`, import.meta.url)

export default {
  name: 'breakdown',
  title: 'Dispatch breakdown: what offload() adds over a bare tinypool.run() (useAtomics: false)',
  inDefault: false,
  variants: () => [
    { name: 'tp-small', label: 'tinypool, {params, query}', script: server('tinypool'), env: { BENCH_ATOMICS: '0' } },
    { name: 'tp-request', label: 'tinypool, whole request copy', script: server('tinypool'), env: { BENCH_ATOMICS: '0', BENCH_PAYLOAD: 'request' } },
    { name: 'tp-request-timer', label: 'tinypool, request + AbortController/timer', script: server('tinypool'), env: { BENCH_ATOMICS: '0', BENCH_PAYLOAD: 'request', BENCH_TIMEOUT_MS: '30000' } },
    { name: 'mpm-run', label: 'app.mpm.run(), {params, query}', script: server('mpm'), env: { BENCH_MPM_RUN: '1' } },
    { name: 'mpm-notimeout', label: 'offload(), taskTimeout: 0', script: server('mpm'), env: { BENCH_TASK_TIMEOUT: '0' } },
    { name: 'mpm', label: 'offload() (defaults)', script: server('mpm') }
  ],
  columns: dispatchColumns,
  warmup: dispatchWarmup,
  measure: dispatchMeasure,
  summary (m) {
    const base = m['tp-small']
    if (base === undefined) return []
    return Object.entries(m).filter(([name]) => name !== 'tp-small').map(([name, v]) =>
      `${name}: ${v.cpuUsPerReq - base.cpuUsPerReq >= 0 ? '+' : ''}${(v.cpuUsPerReq - base.cpuUsPerReq).toFixed(0)} µs CPU/req, ${(v.rps / base.rps).toFixed(2)}× req/s vs tp-small`)
  }
}
