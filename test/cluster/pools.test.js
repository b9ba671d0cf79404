// Named pools under fastify-mpm's cluster: pools come from the app's plugin options, the
// cluster's `threads` (the CLI's --threads) sizes the default pool only, the primary's status page,
// ?auto and metrics add each pool up over the processes, and the oversubscription warning counts
// every pool's threads.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { availableParallelism } from 'node:os'
import { send } from '../helpers/app.js'
import { startCluster } from '../fixtures/cluster/helpers.js'

const cores = availableParallelism()

test('a cluster of 2 processes with pool reports: per-pool status over both, --threads for the default pool only, the warning counts the pools', { timeout: 90_000 }, async (t) => {
  // reports may grow to 2·cores threads per process (it starts with one): 2 × (2 + 2·cores) slots
  // is past twice the cores, though the default pools alone (2 × 2) may not be.
  process.env.FIXTURE_POOLS = JSON.stringify({ reports: { threads: { min: 1, max: 2 * cores }, maxQueue: 7 } })
  process.env.FIXTURE_STATUS = '1'
  t.after(() => { delete process.env.FIXTURE_POOLS; delete process.env.FIXTURE_STATUS })
  const c = await startCluster({ processes: 2, threads: 2 })
  t.after(c.teardown)

  for (let i = 0; i < 6; i++) assert.equal((await send(`${c.url}/report`, { reset: true })).status, 200)

  const status = (await send(`${c.url}/server-status?json`, { reset: true })).json()
  assert.equal(status.totals.answered, 2)
  for (const p of status.processes) {
    assert.deepEqual(p.pools.map((pool) => [pool.name, pool.stats.maxThreads]), [['default', 2], ['reports', 2 * cores]], 'threads: 2 is the default pool\'s; reports keeps its own')
  }
  const { reports } = status.totals.pools
  assert.equal(reports.completed, 6, 'the pool\'s tasks over both processes')
  assert.equal(reports.maxQueue, 14)
  assert.equal(status.totals.pools.default.maxQueue, 1024)
  assert.equal(status.routes.find((r) => r.route === 'GET /report').pool, 'reports')

  const auto = (await send(`${c.url}/server-status?auto`, { reset: true })).text
  assert.match(auto, /^Processes: 2$/m)
  assert.match(auto, /^Pool\.reports\.TasksCompleted: 6$/m)
  assert.match(auto, /^Pool\.reports\.MaxQueue: 14$/m)
  assert.match(auto, /^MaxQueue: 1038$/m, 'Apache totals: every pool of every process')

  const metrics = (await send(`${c.url}/metrics`, { reset: true })).text
  assert.match(metrics, /^fastify_mpm_queue_max\{pool="reports"\} 14$/m)
  assert.match(metrics, /^fastify_mpm_queue_max\{pool="default"\} 1024$/m)
  assert.match(metrics, /^fastify_mpm_tasks_total\{route="GET \/report",result="ok"\} 6$/m)

  const warnings = c.logs.lines.filter((l) => l.reason === 'oversubscribed')
  assert.equal(warnings.length, 1, JSON.stringify(warnings))
  const slots = 2 + 2 * cores
  assert.match(warnings[0].msg, new RegExp(`^2 processes × ${slots} threads = ${2 * slots} threads at most`))
})
