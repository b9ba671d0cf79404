// The cluster relay with real processes but without fastify-mpm's cluster(): this test is the
// primary (node:cluster), installs the relay with its own view of the children, and talks to
// each child on its own port. Covers children that answer, one that never does, one booting,
// the metrics sum, and a primary that stops answering.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import cluster from 'node:cluster'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { installStatusRelay } from 'fastify-mpm'
import { send } from '../helpers/app.js'
import { tempDir, waitFor } from '../helpers/util.js'

const RELAY_TIMEOUT = 500

async function forkChild (env = {}) {
  const worker = cluster.fork(env)
  const [message] = await once(worker, 'message')
  assert.equal(message.type, 'fixture:listening')
  return { worker, url: message.url, pid: worker.process.pid, startedAt: Date.now() }
}

describe('status relay across node:cluster children', { timeout: 90_000 }, () => {
  let children = []
  let removeRelay
  let dir
  const view = {
    startedAt: Date.now(),
    restarts: () => 7,
    children: () => [
      ...children.map((c) => ({ workerId: c.worker.id, pid: c.pid, state: 'ready', startedAt: c.startedAt, lastCheckIn: Date.now() })),
      { workerId: 999, pid: 424242, state: 'booting', startedAt: Date.now(), lastCheckIn: Date.now() }
    ]
  }

  before(async () => {
    dir = tempDir()
    cluster.setupPrimary({ exec: fileURLToPath(new URL('../fixtures/status/cluster-child.js', import.meta.url)), silent: false })
    children = await Promise.all([forkChild(), forkChild(), forkChild({ FIXTURE_STATUS: 'off' })])
    removeRelay = installStatusRelay(view, { timeout: RELAY_TIMEOUT })
  })

  after(async () => {
    removeRelay?.()
    await Promise.all(children.map(async ({ worker }) => {
      if (worker.isDead()) return
      const exited = once(worker, 'exit')
      worker.send({ type: 'fixture:close' })
      const timer = setTimeout(() => worker.process.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }))
    dir?.remove()
  })

  test('?json from any child shows every process; silent and booting ones are marked, not waited on', async () => {
    const [a, b, silent] = children
    const status = (await send(`${a.url}/server-status?json`)).json()
    assert.equal(status.server.mode, 'cluster')
    assert.equal(status.server.pid, process.pid, 'server facts come from the primary')
    assert.equal(status.server.processRestarts, 7)
    assert.equal(status.totals.processes, 4)
    assert.equal(status.totals.answered, 2)
    const byPid = Object.fromEntries(status.processes.map((p) => [p.pid, p]))
    for (const child of [a, b]) {
      assert.equal(byPid[child.pid].answered, true)
      assert.equal(byPid[child.pid].workerId, child.worker.id)
      assert.equal(byPid[child.pid].scoreboard.length, 2)
    }
    assert.equal(byPid[silent.pid].answered, false)
    assert.match(byPid[silent.pid].reason, new RegExp(`no answer within ${RELAY_TIMEOUT} ms`))
    assert.equal(byPid[424242].answered, false)
    assert.equal(byPid[424242].reason, 'booting')
    assert.equal(status.scoreboard.length, 4, 'two answering processes × two threads')

    const auto = (await send(`${b.url}/server-status?auto`)).text
    assert.match(auto, /^Processes: 4$/m)
    assert.match(auto, /^ProcessesAnswered: 2$/m)
    assert.match(auto, /^ProcessRestarts: 7$/m)
    assert.match(auto, /^Scoreboard: [_WS.]{4}$/m)

    const html = (await send(`${b.url}/server-status`)).text
    assert.match(html, /cluster of 4 processes/)
    assert.match(html, new RegExp(`data-pid="${silent.pid}">.*no answer within ${RELAY_TIMEOUT} ms`))
    assert.equal(html.match(/<div class="grid">/g).length, 2)
  })

  test('a busy thread in one child shows as W on the page served by another', async () => {
    const [a, b] = children
    const gate = dir.gate('cluster-busy')
    const running = send(`${a.url}/gate?gate=${encodeURIComponent(gate.path)}`)
    try {
      const status = await waitFor(async () => {
        const s = (await send(`${b.url}/server-status?json`)).json()
        return s.processes.find((p) => p.pid === a.pid)?.scoreboard.includes('W') ? s : null
      }, { timeoutMs: 15_000, what: "a W in the first child's row" })
      assert.equal(status.processes.find((p) => p.pid === b.pid).slots.busy, 0)
      assert.equal(status.totals.busy, 1)
    } finally {
      gate.open()
    }
    assert.equal((await running).status, 200)
  })

  test('metrics from any child are the sum over the children, plus the primary\'s own', async () => {
    const [a, b] = children
    for (let i = 0; i < 3; i++) assert.equal((await send(`${a.url}/quick`)).status, 200)
    for (let i = 0; i < 2; i++) assert.equal((await send(`${b.url}/quick`)).status, 200)
    const res = await send(`${b.url}/metrics`)
    assert.equal(res.status, 200)
    const text = res.text
    assert.match(text, /^fastify_mpm_tasks_total\{route="GET \/quick",result="ok"\} 5$/m)
    assert.match(text, /^fastify_mpm_handler_duration_seconds_count\{route="GET \/quick"\} 5$/m)
    assert.match(text, /^fastify_mpm_threads\{state="idle",pool="default"\} 4$/m)
    assert.match(text, /^fastify_mpm_process_restarts_total 7$/m)
    assert.match(text, /^fastify_mpm_processes\{state="ready"\} 3$/m)
    assert.match(text, /^fastify_mpm_processes\{state="booting"\} 1$/m)
    assert.match(text, /^fastify_mpm_processes_unanswered 2$/m)
    for (const child of [a, b]) assert.match(text, new RegExp(`^fastify_mpm_event_loop_utilization\\{pid="${child.pid}"\\} [\\d.e-]+$`, 'm'))
  })

  test('when the primary does not answer, a child still serves its own status, with a note', async () => {
    removeRelay()
    removeRelay = undefined
    const [a] = children
    const status = (await send(`${a.url}/server-status?json`)).json()
    assert.equal(status.server.mode, 'cluster')
    assert.match(status.server.note, /primary did not answer/)
    assert.equal(status.processes.length, 1)
    assert.equal(status.processes[0].pid, a.pid)
    const metrics = await send(`${a.url}/metrics`)
    assert.equal(metrics.status, 200)
    assert.match(metrics.text, /^fastify_mpm_tasks_total\{route="GET \/quick",result="ok"\} 3$/m, 'only its own count')
  })
})
