// Apache tooling, unchanged: Debian's prometheus-apache-exporter at its default path
// (`/server-status/?auto`, trailing slash) against a cluster started with the CLI reads workers,
// the scoreboard, connections and processes. Skips with a message where the exporter is absent
// (.ci/run installs it).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import { send } from '../helpers/app.js'
import { freePort, tempDir, waitFor, withDeadline } from '../helpers/util.js'
import { runCli } from '../fixtures/cluster/helpers.js'

const EXPORTER = ['/usr/bin/prometheus-apache-exporter', '/usr/local/bin/prometheus-apache-exporter'].find((p) => existsSync(p))
const STATUS_APP = fileURLToPath(new URL('../fixtures/status/app.js', import.meta.url))
const KEEP_ALIVE = 10

/** One raw connection that has had one answer and now sits idle. */
function idleConnection (port) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('error', reject)
    socket.once('connect', () => socket.write('GET /pid HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'))
    socket.once('data', () => resolve(socket))
  })
}

/** Prometheus text → { 'name{labels}': value }. */
function parseMetrics (text) {
  const out = {}
  for (const line of text.split('\n')) {
    const match = /^(apache_[a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line)
    if (match) out[match[1]] = Number(match[2])
  }
  return out
}

describe('prometheus-apache-exporter against a CLI cluster (2 processes × 2 threads)', {
  timeout: 90_000,
  skip: EXPORTER === undefined ? 'prometheus-apache-exporter is not installed (Debian: apt-get install prometheus-apache-exporter; .ci/run does)' : false
}, () => {
  let cli
  let exporter
  let url
  let metricsUrl
  let dir
  const sockets = []
  before(async () => {
    dir = tempDir()
    cli = runCli(['start', STATUS_APP, '--processes', '2', '--threads', '2', '--port', '0'])
    url = await cli.listening()
    const telemetry = `127.0.0.1:${await freePort()}`
    metricsUrl = `http://${telemetry}/metrics`
    exporter = spawn(EXPORTER, [`--scrape_uri=${url}/server-status/?auto`, `--telemetry.address=${telemetry}`], { stdio: 'ignore' })
    await waitFor(async () => (await send(metricsUrl).catch(() => ({ status: 0 }))).status === 200,
      { timeoutMs: 15_000, intervalMs: 100, what: 'the exporter to listen' })
  })
  after(async () => {
    for (const socket of sockets) socket.destroy()
    exporter?.kill('SIGKILL')
    cli?.proc.kill('SIGTERM')
    await withDeadline(cli?.exited ?? Promise.resolve(), 15_000, 'the CLI exiting').catch(() => {})
    cli?.kill()
    dir?.remove()
  })

  test('apache_up, apache_workers, apache_scoreboard, apache_connections and apache_processes come out right', async () => {
    const port = Number(new URL(url).port)
    for (let i = 0; i < KEEP_ALIVE; i++) sockets.push(await idleConnection(port))
    const gate = dir.gate('exporter-busy')
    const running = send(`${url}/gate?gate=${encodeURIComponent(gate.path)}`)
    let m
    try {
      m = await waitFor(async () => {
        const scraped = parseMetrics((await send(metricsUrl)).text)
        return scraped['apache_workers{state="busy"}'] === 1 && scraped['apache_scoreboard{state="idle"}'] === 3 ? scraped : null
      }, { timeoutMs: 20_000, intervalMs: 100, what: 'the exporter to see one busy thread of four' })
    } finally {
      gate.open()
    }
    assert.equal((await running).status, 200)

    assert.equal(m.apache_up, 1)
    assert.equal(m['apache_workers{state="idle"}'], 3)
    assert.equal(m['apache_scoreboard{state="reply"}'], 1, 'W: running a handler')
    for (const state of ['startup', 'read', 'keepalive', 'dns', 'closing', 'logging', 'graceful_stop', 'idle_cleanup', 'open_slot']) {
      assert.equal(m[`apache_scoreboard{state="${state}"}`], 0, `scoreboard ${state}`)
    }
    assert.ok(m['apache_connections{state="total"}'] >= KEEP_ALIVE + 1, `total ${m['apache_connections{state="total"}']}`)
    assert.ok(m['apache_connections{state="keepalive"}'] >= KEEP_ALIVE, `keepalive ${m['apache_connections{state="keepalive"}']}`)
    assert.equal(m['apache_connections{state="closing"}'], 0)
    assert.ok('apache_connections{state="writing"}' in m)
    assert.equal(m['apache_processes{state="all"}'], 2)
    assert.equal(m['apache_processes{state="stopping"}'], 0)
    assert.ok(m.apache_accesses_total >= KEEP_ALIVE, `accesses ${m.apache_accesses_total}`)
  })
})
