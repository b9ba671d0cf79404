// Behind a real load balancer: Debian's nginx (nginx-light), run as a non-daemon child with its
// config, pid and logs in a temp dir and listening on 127.0.0.1 only, in front of two hosts
// started with `fastify-mpm start`. The config is examples/nginx/fastify-mpm.conf with its
// addresses rewritten to loopback. Under steady GET and POST load through nginx: one host is
// stopped (SIGTERM) and started again, the other reloaded (SIGHUP): zero failed requests.
// Skips with a message where nginx is absent (.ci/run installs it).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'
import { freePort, tempDir, waitFor, withDeadline } from '../helpers/util.js'
import { fixture, forkedPids, runCli, until } from '../fixtures/cluster/helpers.js'

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p))
const EXAMPLE = new URL('../../examples/nginx/fastify-mpm.conf', import.meta.url)

/** The example, pointed at loopback, inside a main config that keeps everything in `dir`. */
function nginxConfig (dir, port, hosts) {
  const site = readFileSync(EXAMPLE, 'utf8')
    .replace('server 10.0.0.11:3000', `server 127.0.0.1:${hosts[0]}`)
    .replace('server 10.0.0.12:3000', `server 127.0.0.1:${hosts[1]}`)
    .replace(/listen 80;/, `listen 127.0.0.1:${port};`)
  assert.ok(site.includes(`127.0.0.1:${hosts[1]}`) && site.includes(`listen 127.0.0.1:${port}`), 'the example has the lines the test rewrites')
  writeFileSync(dir.file('fastify-mpm.conf'), site)
  writeFileSync(dir.file('nginx.conf'), `daemon off;
worker_processes 1;
pid ${dir.file('nginx.pid')};
error_log ${dir.file('error.log')} warn;
events { worker_connections 1024; }
http {
  access_log ${dir.file('access.log')};
  client_body_temp_path ${dir.file('client_body')};
  proxy_temp_path ${dir.file('proxy')};
  include ${dir.file('fastify-mpm.conf')};
}
`)
  return dir.file('nginx.conf')
}

/** GET /pid and POST /echo in turn on every lane, through nginx; every answer is checked. */
function mixedLoad (url, { lanes = 6, pauseMs = 5, maxRequests = 40_000 } = {}) {
  const pool = new Pool(url, { connections: lanes, pipelining: 1 })
  const stats = { sent: 0, ok: 0, get: 0, post: 0, failures: [], pids: new Set() }
  let stopped = false
  async function lane (id) {
    for (let n = 0; !stopped && stats.sent < maxRequests; n++) {
      stats.sent++
      const post = n % 2 === 1
      try {
        const res = post
          ? await pool.request({ path: '/echo', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, n }) })
          : await pool.request({ path: '/pid', method: 'GET' })
        const text = await res.body.text()
        const body = res.statusCode === 200 ? JSON.parse(text) : null
        if (res.statusCode !== 200 || (post && (body.echo?.id !== id || body.echo?.n !== n))) {
          stats.failures.push(`${post ? 'POST' : 'GET'} → ${res.statusCode} ${text.slice(0, 120)}`)
        } else {
          stats.ok++
          stats[post ? 'post' : 'get']++
          stats.pids.add(body.pid)
        }
      } catch (err) {
        stats.failures.push(`${post ? 'POST' : 'GET'} → ${err.code ?? err.message}`)
      }
      if (pauseMs > 0) await sleep(pauseMs)
    }
  }
  const running = Promise.all(Array.from({ length: lanes }, (_, id) => lane(id)))
  return {
    stats,
    async stop () {
      stopped = true
      await running
      await pool.close()
      return stats
    }
  }
}

test('nginx in front of two CLI hosts: SIGTERM one, start it again, SIGHUP the other, under GET and POST load: zero failures', {
  timeout: 150_000,
  skip: NGINX === undefined ? 'nginx is not installed (Debian: apt-get install nginx-light; .ci/run does)' : false
}, async (t) => {
  const dir = tempDir('fastify-mpm-nginx-')
  chmodSync(dir.root, 0o755) // nginx's workers run as nobody when the test runs as root
  t.after(dir.remove)
  const [nginxPort, portA, portB] = [await freePort(), await freePort(), await freePort()]
  const host = (port) => runCli(['start', fixture('app.js'), '--processes', '2', '--threads', '1', '--port', String(port), '--graceful-timeout', '10000'])
  const clis = []
  t.after(() => { for (const cli of clis) cli.kill() })
  let a = host(portA)
  const b = host(portB)
  clis.push(a, b)
  await Promise.all([a.listening(), b.listening()])

  const nginx = spawn(NGINX, ['-p', dir.root, '-c', nginxConfig(dir, nginxPort, [portA, portB]), '-e', dir.file('error.log')], { stdio: ['ignore', 'ignore', 'pipe'] })
  let nginxStderr = ''
  nginx.stderr.setEncoding('utf8').on('data', (chunk) => { nginxStderr += chunk })
  const nginxExited = new Promise((resolve) => nginx.once('exit', resolve))
  t.after(async () => {
    nginx.kill('SIGQUIT')
    await withDeadline(nginxExited, 10_000, 'nginx exiting').catch(() => nginx.kill('SIGKILL'))
  })
  const url = `http://127.0.0.1:${nginxPort}`
  await waitFor(async () => (await fetch(`${url}/pid`).catch(() => null))?.status === 200,
    { timeoutMs: 15_000, intervalMs: 100, what: `nginx to answer (stderr: ${nginxStderr})` })

  const load = mixedLoad(url)
  let stats
  try {
    await sleep(1500)
    // 1. Stop host A: its processes drain, its listener closes, nginx sends everything to B.
    a.proc.kill('SIGTERM')
    assert.equal((await withDeadline(a.exited, 30_000, 'host A stopping')).code, 0)
    await sleep(1000)
    // 2. Start it again on the same port: nginx tries it again after fail_timeout (2 s).
    const aPids = forkedPids(a.logs.lines)
    a = host(portA)
    clis.push(a)
    await a.listening()
    await sleep(3000)
    // 3. Reload host B: new processes one at a time, each listening before an old one drains.
    b.proc.kill('SIGHUP')
    await until(() => b.logs.lines.find((l) => l.msg === 'reload finished'), { timeoutMs: 60_000, what: 'host B to finish reloading' })
    await sleep(1500)
    stats = await load.stop()
    assert.deepEqual(stats.failures, [], `no request failed (nginx error log:\n${dir.read('error.log') ?? ''})`)
    assert.ok(stats.get > 100 && stats.post > 100, `steady GET and POST load ran (${stats.get} GET, ${stats.post} POST)`)
    const restartedA = forkedPids(a.logs.lines).filter((pid) => stats.pids.has(pid))
    assert.ok(restartedA.length > 0, 'the restarted host A served requests again')
    const reloadedB = b.logs.lines.filter((l) => l.msg === 'process ready' && l.reason === 'reload').map((l) => l.pid)
    assert.ok(reloadedB.some((pid) => stats.pids.has(pid)), 'host B\'s new processes served requests')
    assert.ok(aPids.some((pid) => stats.pids.has(pid)), 'host A served before it was stopped')
  } finally {
    if (stats === undefined) await load.stop()
  }
  t.diagnostic(`${stats.ok} requests (${stats.get} GET, ${stats.post} POST) through nginx, 0 failed`)
})
