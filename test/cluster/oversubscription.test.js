// The start-up warning for more threads than the machine can run: processes × max threads past
// twice the cores logs one warn line from the primary (a process on its own checks its own pool);
// a cluster sized from the cores logs none.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { availableParallelism } from 'node:os'
import { startCluster } from '../fixtures/cluster/helpers.js'
import { oversubscription } from '../../dist/core/oversubscription.js'

const cores = availableParallelism()
const warnings = (logs) => logs.lines.filter((l) => l.reason === 'oversubscribed')

test('the rule: more than 2× the cores warns, naming the shape; a process without threads counts as one', () => {
  assert.equal(oversubscription([1, 1], 2), undefined)
  assert.equal(oversubscription([2, 2], 2), undefined, '4 threads on 2 cores is the limit, not past it')
  assert.match(oversubscription([4, 4, 4, 4], 2), /^4 processes × 4 threads = 16 threads at most, on 2 cores: more than 2× the cores/)
  assert.match(oversubscription([0, 0, 0, 0, 0], 2), /5 processes × 1 thread = 5 threads at most/)
  assert.match(oversubscription([1, 8], 4), /^2 processes = 9 threads at most, on 4 cores/)
})

test('a cluster started with too many threads logs the warning once', { timeout: 60_000 }, async (t) => {
  // 2 processes × 2·cores threads = 4 × cores: past the limit on any machine. Threads above
  // min start only under load, so this costs two processes and two threads.
  const c = await startCluster({ processes: 2, threads: `1:${2 * cores}` })
  t.after(c.teardown)
  const lines = warnings(c.logs)
  assert.equal(lines.length, 1, JSON.stringify(lines))
  assert.equal(lines[0].level, 40, 'a warn line')
  assert.equal(lines[0].cores, cores)
  assert.match(lines[0].msg, new RegExp(`^2 processes × ${2 * cores} threads = ${4 * cores} threads at most, on ${cores} cores?`))
  // Once at start, not on each replacement.
  await c.handle.reload()
  assert.equal(warnings(c.logs).length, 1)
})

test('a cluster sized from the cores logs no such warning', { timeout: 60_000 }, async (t) => {
  const c = await startCluster({ processes: 1, threads: undefined })
  t.after(c.teardown)
  assert.ok(c.logs.lines.some((l) => l.msg?.startsWith('listening on')), 'it started')
  assert.deepEqual(warnings(c.logs), [])
})

test('a process on its own warns once when its pool may pass 2× the cores; sized from the cores, it does not', { timeout: 30_000 }, async (t) => {
  const { startApp } = await import('../helpers/app.js')
  const big = await startApp({ threads: { min: 1, max: 2 * cores + 1 } }, () => {}, { listen: false })
  t.after(() => big.close())
  const lines = warnings(big.logs)
  assert.equal(lines.length, 1, JSON.stringify(lines))
  assert.equal(lines[0].level, 40)
  assert.match(lines[0].msg, new RegExp(`1 process × ${2 * cores + 1} threads = ${2 * cores + 1} threads at most, on ${cores} cores?: .*leave \`threads\` at its default`))
  const sized = await startApp({}, () => {}, { listen: false })
  t.after(() => sized.close())
  assert.deepEqual(warnings(sized.logs), [])
})
