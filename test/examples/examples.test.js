// Every example as its README runs it: it has a README (start, curl, stop), it starts, answers
// what the README curls, and stops with exit code 0 on Ctrl-C (SIGINT).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { send } from '../helpers/app.js'
import { withDeadline } from '../helpers/util.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const TSX = fileURLToPath(new URL('../../node_modules/tsx/dist/cli.mjs', import.meta.url))
const CLI = fileURLToPath(new URL('../../dist/cluster/cli.js', import.meta.url))

const json = { 'content-type': 'application/json' }
const examples = {
  demo: {
    args: ['examples/demo/server.js'],
    async check (url) {
      assert.deepEqual((await send(`${url}/fib/20`)).json().value, 6765)
      assert.equal((await send(`${url}/hello`)).json().hello, 'world')
      assert.equal((await send(`${url}/fib/x`)).status, 400)
    }
  },
  schema: {
    args: ['examples/schema/server.js'],
    async check (url) {
      const ok = await send(`${url}/report`, { method: 'POST', headers: json, body: JSON.stringify({ from: 1, to: 1000 }) })
      assert.equal(ok.status, 200)
      assert.deepEqual(Object.keys(ok.json()).sort(), ['computedBy', 'from', 'to', 'total'], 'internal is not serialized')
      assert.equal((await send(`${url}/report`, { method: 'POST', headers: json, body: '{"from":1}' })).status, 400)
    }
  },
  typescript: {
    args: [TSX, 'examples/typescript/server.ts'],
    async check (url) {
      const res = await send(`${url}/fib/20`)
      assert.equal(res.headers['x-handler'], 'typescript')
      assert.deepEqual(res.json(), { n: 20, value: 6765 })
    }
  },
  express: {
    args: ['examples/express/server.js'],
    async check (url) {
      assert.equal((await send(`${url}/fib/25`)).json().value, 75025)
      assert.equal((await send(`${url}/hello`)).json().hello, 'world')
      assert.equal((await send(`${url}/fib/x`)).status, 400)
      assert.equal((await send(`${url}/fib/41`)).status, 422)
      assert.match((await send(`${url}/server-status?auto`)).text, /^ServerMPM: fastify-mpm$/m)
      assert.match((await send(`${url}/metrics`)).text, /^fastify_mpm_tasks_total\{route="GET \/fib\/:n",result="ok"\} 2$/m, '/fib/25 and /fib/41: a 422 the handler returns is a task that ran ok')
    }
  },
  'express under the CLI': {
    dir: 'express',
    args: [CLI, 'start', 'examples/express/app.js', '--processes', '2', '--threads', '1'],
    async check (url) {
      assert.equal((await send(`${url}/fib/25`)).json().value, 75025)
      assert.equal((await send(`${url}/hello`)).json().hello, 'world')
      assert.equal((await send(`${url}/fib/x`)).status, 400)
    }
  },
  pools: {
    args: ['examples/pools/app.js'],
    async check (url) {
      // /crash kills the legacy pool's child process: its own 500, and the server answers on.
      const crash = await send(`${url}/crash`)
      assert.equal(crash.status, 500)
      assert.equal(crash.json().code, 'FST_MPM_PROCESS_CRASHED')
      assert.equal((await send(`${url}/hello`)).json().hello, 'world')
      assert.equal((await send(`${url}/thumb`)).json().thumb, 'ok', 'the legacy pool replaced its child')
      assert.equal((await send(`${url}/price?qty=3`)).json().total, 12.6)
      assert.equal((await send(`${url}/thumb`)).json().thumb, 'ok')
      // The reports pool holds 1 + 4; the rest of 8 at once are refused, and /price answers meanwhile.
      const reports = Array.from({ length: 8 }, () => send(`${url}/report?ms=600`))
      await new Promise((resolve) => setTimeout(resolve, 150))
      const price = await send(`${url}/price`)
      assert.equal(price.status, 200)
      const statuses = (await Promise.all(reports)).map((r) => r.status).sort()
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 503, 503, 503])
      const pools = (await send(`${url}/pools`)).json()
      assert.equal(pools.reports.rejected, 3)
      assert.equal(pools.default.rejected, 0)
      assert.match((await send(`${url}/server-status?auto`)).text, /^Pool\.reports\.TasksRejected: 3$/m)
    }
  },
  streaming: {
    args: ['examples/streaming/server.js'],
    async check (url) {
      // 20,000 rows is ~600 KB: many 64 KB pieces, each across the thread boundary.
      const csv = await send(`${url}/export.csv?rows=20000`)
      assert.equal(csv.status, 200, csv.text.slice(0, 300))
      assert.match(csv.headers['content-type'], /^text\/csv/)
      const lines = csv.text.split('\n')
      assert.deepEqual(lines.slice(0, 3), ['id,customer,amount', '1,customer-1,79.19', '2,customer-2,158.38'])
      assert.equal(lines.at(-1), '', 'the last row ends with a newline')
      assert.equal(lines.length - 2, 20000, 'a header and every row')
      assert.equal(lines.at(-2).split(',')[0], '20000')
      const body = randomBytes(4 * 1024 * 1024 + 123)
      const upload = await send(`${url}/upload`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body })
      assert.equal(upload.status, 200, upload.text)
      assert.deepEqual(upload.json(), { bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') })
      assert.equal((await send(`${url}/hello`)).json().hello, 'world')
    }
  },
  cluster: {
    args: [CLI, 'start', 'examples/cluster/app.js', '--processes', '2', '--threads', '1'],
    async check (url) {
      assert.equal((await send(`${url}/hello`)).json().hello, 'world')
      assert.equal((await send(`${url}/hash?rounds=1000`)).json().rounds, 1000)
    }
  }
}

// Configuration for what runs in front of the server, not a server: its README says how to use it.
// examples/nginx is exercised by test/cluster/nginx.test.js; the Kubernetes manifest is not deployed here.
const configOnly = { nginx: 'fastify-mpm.conf', kubernetes: 'deployment.yaml' }

test('every example directory has a README that says how to start, what to curl and how to stop', () => {
  const dirs = readdirSync(join(root, 'examples')).filter((name) => statSync(join(root, 'examples', name)).isDirectory())
  const exercised = new Set(Object.entries(examples).map(([name, example]) => example.dir ?? name))
  assert.deepEqual(dirs.filter((name) => !(name in configOnly)).sort(), [...exercised].sort(), 'every runnable example is exercised below')
  for (const [name, file] of Object.entries(configOnly)) {
    const readme = readFileSync(join(root, 'examples', name, 'README.md'), 'utf8')
    assert.ok(readme.includes(file), `${name}/README.md explains ${file}`)
    assert.ok(statSync(join(root, 'examples', name, file)).isFile())
  }
  for (const name of dirs.filter((d) => !(d in configOnly))) {
    const readme = readFileSync(join(root, 'examples', name, 'README.md'), 'utf8')
    assert.match(readme, /curl/, `${name}/README.md says what to curl`)
    assert.match(readme, /Ctrl-C/, `${name}/README.md says how to stop`)
    assert.match(readme, /```sh\n/, `${name}/README.md shows how to start`)
  }
})

for (const [name, example] of Object.entries(examples)) {
  test(`examples/${name}: starts, answers, and exits 0 on Ctrl-C`, { timeout: 60_000 }, async (t) => {
    const proc = spawn(process.execPath, example.args, {
      cwd: root, env: { ...process.env, PORT: '0', LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe']
    })
    t.after(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL') })
    let out = ''
    proc.stderr.on('data', (chunk) => { out += chunk })
    const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })))
    const url = await withDeadline(new Promise((resolve, reject) => {
      proc.stdout.on('data', (chunk) => {
        out += chunk
        const found = /(http:\/\/127\.0\.0\.1:[1-9]\d*)/.exec(out)
        if (found) resolve(found[1])
      })
      exited.then(({ code }) => reject(new Error(`exited with ${code} before listening:\n${out}`)))
    }), 45_000, `examples/${name} to listen`)
    await example.check(url)
    proc.kill('SIGINT')
    const { code, signal } = await withDeadline(exited, 20_000, `examples/${name} to stop`)
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, out)
  })
}
