// The status page and metrics across fastify-mpm's own cluster(): 2 processes × 2 threads, real
// processes and real HTTP; whichever child takes the request shows (and sums) every process.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { cluster } from 'fastify-mpm'
import { send } from '../helpers/app.js'
import { tempDir, waitFor } from '../helpers/util.js'

describe('status across a cluster (2 processes × 2 threads)', { timeout: 90_000 }, () => {
  let handle
  let url
  let dir
  // A new connection each time, so round-robin spreads the requests over the children.
  const json = async () => {
    const res = await send(`${url}/server-status?json`, { reset: true })
    assert.equal(res.status, 200)
    return res.json()
  }
  const readyPids = () => handle.children().filter((c) => c.state === 'ready').map((c) => c.pid).sort()

  before(async () => {
    dir = tempDir()
    handle = await cluster({
      app: new URL('../fixtures/status/app.js', import.meta.url),
      processes: 2,
      threads: 2,
      listen: { port: 0, host: '127.0.0.1' },
      gracefulTimeout: 15_000,
      signals: false,
      logger: false
    })
    url = handle.address.url
  })
  after(async () => {
    if (handle !== undefined) {
      const pids = handle.children().map((c) => c.pid)
      await Promise.race([handle.stop(), sleep(10_000)])
      for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch {} }
    }
    dir?.remove()
  })

  test('every process appears, whichever child serves the page', async () => {
    // Several requests, so both children (round-robin) serve the page at least once.
    const served = new Set()
    for (let i = 0; i < 4; i++) {
      const status = await json()
      assert.equal(status.server.mode, 'cluster')
      assert.equal(status.server.pid, process.pid, 'server facts come from the primary')
      assert.equal(status.server.processRestarts, 0)
      assert.equal(status.totals.processes, 2)
      assert.equal(status.totals.answered, 2)
      assert.deepEqual(status.processes.map((p) => p.pid).sort(), readyPids())
      assert.match(status.scoreboard, /^[_WS.]{4}$/)
      served.add(status.server.servedBy)
    }
    assert.deepEqual([...served].sort(), readyPids(), 'both processes served the page')
    const auto = (await send(`${url}/server-status?auto`)).text
    assert.match(auto, /^Processes: 2$/m)
    assert.match(auto, /^Scoreboard: [_WS.]{4}$/m)
  })

  test('a long offloaded request shows as W on the cluster page', async () => {
    const gate = dir.gate('cluster-busy')
    const running = send(`${url}/gate?gate=${encodeURIComponent(gate.path)}`)
    try {
      const status = await waitFor(async () => {
        const s = await json()
        return s.totals.busy === 1 ? s : null
      }, { timeoutMs: 15_000, what: 'one busy slot in the cluster' })
      assert.equal(status.scoreboard.split('W').length - 1, 1)
      assert.equal(status.processes.filter((p) => p.scoreboard.includes('W')).length, 1)
    } finally {
      gate.open()
    }
    assert.equal((await running).status, 200)
  })

  test('during a graceful reload, the process finishing a long request shows G', async () => {
    const gate = dir.gate('reload-graceful')
    const running = send(`${url}/gate?gate=${encodeURIComponent(gate.path)}`, { reset: true })
    let reloading
    try {
      await waitFor(async () => (await json()).totals.busy === 1, { timeoutMs: 15_000, what: 'the long request to run' })
      reloading = handle.reload()
      const status = await waitFor(async () => {
        const s = await json()
        return s.processes.find((p) => p.answered && p.state === 'stopping' && p.scoreboard.includes('G')) ? s : null
      }, { timeoutMs: 30_000, intervalMs: 100, what: 'a stopping process with a G slot' })
      const stopping = status.processes.find((p) => p.state === 'stopping')
      assert.equal(stopping.slots.finishing, 1)
      assert.doesNotMatch(stopping.scoreboard, /W/)
      assert.equal((await send(`${url}/server-status?auto`, { reset: true })).status, 200)
    } finally {
      gate.open()
    }
    assert.equal((await running).status, 200, 'the long request finished during the reload')
    await reloading
    const after = await json()
    assert.equal(after.totals.answered, 2)
    assert.equal(after.processes.filter((p) => p.state === 'ready').length, 2)
  })

  test('metrics are summed over the processes; process restarts come from the primary', async () => {
    for (let i = 0; i < 6; i++) assert.equal((await send(`${url}/quick`)).status, 200)
    const text = (await send(`${url}/metrics`)).text
    assert.match(text, /^fastify_mpm_tasks_total\{route="GET \/quick",result="ok"\} 6$/m)
    assert.match(text, /^fastify_mpm_threads\{state="open",pool="default"\} 0$/m)
    assert.match(text, /^fastify_mpm_processes\{state="ready"\} 2$/m)
    assert.match(text, /^fastify_mpm_process_restarts_total 0$/m)
    for (const pid of readyPids()) assert.match(text, new RegExp(`^fastify_mpm_event_loop_utilization\\{pid="${pid}"\\} `, 'm'))
  })

  test('a killed process is replaced, counted as a restart, and its successor shows up', async () => {
    const [victim] = readyPids()
    process.kill(victim, 'SIGKILL')
    await waitFor(() => handle.restarts === 1 && readyPids().length === 2 && !readyPids().includes(victim),
      { timeoutMs: 30_000, what: 'the replacement to be ready' })
    const status = await waitFor(async () => {
      const s = await json()
      return s.totals.answered === 2 ? s : null
    }, { timeoutMs: 10_000, what: 'both processes to answer' })
    assert.equal(status.server.processRestarts, 1)
    assert.deepEqual(status.processes.map((p) => p.pid).sort(), readyPids())
    assert.match((await send(`${url}/metrics`)).text, /^fastify_mpm_process_restarts_total 1$/m)
  })
})
