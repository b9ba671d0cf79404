// The fastify-mpm CLI as a user runs it: a real primary process, its signals, its exit code.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { describe, test, before, after } from 'node:test'
import { promisify } from 'node:util'
import { Agent, request } from 'undici'
import { tempDir } from '../helpers/util.js'
import { answeredBeforeTheKill, CLI, fixture, runCli, forkedPids, until, isRunning } from '../fixtures/cluster/helpers.js'

const run = promisify(execFile)

async function get (url, path, dispatcher) {
  const res = await request(`${url}${path}`, { dispatcher })
  return { status: res.statusCode, body: await res.body.json() }
}

async function readyPids (cli, reason) {
  return cli.logs.filter((l) => l.msg === 'process ready' && (reason === undefined || l.reason === reason)).map((l) => l.pid)
}

test('--help lists every option with its default and the Apache/Puma/Gunicorn name', async () => {
  const { stdout } = await run(process.execPath, [CLI, '--help'])
  for (const flag of ['--processes', '--threads', '--port', '--host', '--graceful-timeout', '--max-requests',
    '--max-requests-jitter', '--heartbeat-timeout', '--boot-timeout']) {
    assert.ok(stdout.includes(flag), `${flag} is listed`)
  }
  assert.match(stdout, /processes × threads ≈ cores/)
  assert.match(stdout, /ThreadsPerChild/)
  assert.match(stdout, /max_requests_jitter/)
  assert.match(stdout, /SIGHUP/)
  assert.match(stdout, /--watch/)
  // The app module may return any of the three the child accepts.
  assert.match(stdout, /a Fastify instance, an Express app or an\s+http\.Server/)
})

test('no arguments at all: the usage on stderr and exit 2, like a bad flag; --help still exits 0', async () => {
  const bare = await run(process.execPath, [CLI]).catch((err) => err)
  assert.equal(bare.code, 2)
  assert.equal(bare.stdout, '')
  assert.match(bare.stderr, /^Usage: fastify-mpm start <app module>/)
  const help = await run(process.execPath, [CLI, '--help'])
  assert.match(help.stdout, /^Usage: fastify-mpm start <app module>/)
  assert.equal(help.stderr, '')
})

test('--version prints the package version', async () => {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
  for (const flag of ['--version', '-v']) {
    const { stdout, stderr } = await run(process.execPath, [CLI, flag])
    assert.equal(stdout, `${version}\n`)
    assert.equal(stderr, '')
  }
})

test('a bad flag or a missing app module is a usage error (exit 2) naming it; nothing is forked', async () => {
  const bad = await run(process.execPath, [CLI, 'start', fixture('app.js'), '--threads', 'lots']).catch((err) => err)
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /--threads/)
  const unknown = await run(process.execPath, [CLI, 'start', fixture('app.js'), '--workers', '2']).catch((err) => err)
  assert.equal(unknown.code, 2)
  assert.match(unknown.stderr, /--workers/)
  const missing = await run(process.execPath, [CLI, 'start', fixture('nope.js')]).catch((err) => err)
  assert.equal(missing.code, 2)
  assert.match(missing.stderr, /nope\.js does not exist/)
})

test('every bad flag or value: one line naming the flag as typed and what it accepts, exit 2', async () => {
  const cases = [
    [['--proccesses', '2'], 'fastify-mpm: unknown option --proccesses (did you mean --processes?)'],
    [['--treads', '2'], 'fastify-mpm: unknown option --treads (did you mean --threads?)'],
    [['--threads.min', '2'], 'fastify-mpm: unknown option --threads.min (did you mean --threads?)'],
    [['--graceful-timeout', '-5'], 'fastify-mpm: --graceful-timeout must be a whole number of milliseconds, 0 or more; got "-5"'],
    [['--port', '70000'], 'fastify-mpm: --port must be a whole number from 0 to 65535; got "70000"'],
    [['--threads', '3:1'], 'fastify-mpm: --threads must be a whole number "n" or "min:max" with min <= max, e.g. 4 or 1:4; got "3:1"'],
    [['-p', '0'], 'fastify-mpm: -p must be a whole number from 1 to 1024, or "auto"; got "0"'],
    [['--max-requests', '1e3'], 'fastify-mpm: --max-requests must be a whole number, 0 (never) or more; got "1e3"'],
    [['--boot-timeout'], 'fastify-mpm: --boot-timeout needs a value: a whole number of milliseconds, 0 or more (0 = no limit)'],
    [['--help=yes'], 'fastify-mpm: --help takes no value']
  ]
  for (const [flags, line] of cases) {
    const err = await run(process.execPath, [CLI, 'start', fixture('app.js'), ...flags]).catch((e) => e)
    assert.equal(err.code, 2, flags.join(' '))
    assert.equal(err.stderr, `${line}\n`, flags.join(' '))
    assert.equal(err.stdout, '', 'nothing started')
  }
  const unknown = await run(process.execPath, [CLI, 'start', fixture('app.js'), '-x']).catch((e) => e)
  assert.equal(unknown.code, 2)
  assert.match(unknown.stderr, /^fastify-mpm: unknown option -x \(options: -p\/--processes, -t\/--threads, --port, .*--version\)\n$/)
  const env = await run(process.execPath, [CLI, 'start', fixture('app.js')], { env: { ...process.env, PORT: 'http' } }).catch((e) => e)
  assert.equal(env.code, 2)
  assert.equal(env.stderr, 'fastify-mpm: $PORT must be a whole number from 0 to 65535; got "http"\n')
})

describe('fastify-mpm start app.js --processes 2 --threads 1:2', { timeout: 120_000 }, () => {
  let cli, url
  const agent = new Agent({ keepAliveTimeout: 100 })
  before(async () => {
    cli = runCli(['start', fixture('app.js'), '--processes', '2', '--threads', '1:2', '--port', '0', '--graceful-timeout', '4000'])
    url = await cli.listening()
  })
  after(async () => {
    cli.kill()
    await agent.close()
  })

  test('logs one ready line per process (pid, threads) and one "listening on" line', async () => {
    const ready = cli.logs.filter((l) => l.msg === 'process ready')
    assert.equal(ready.length, 2)
    for (const line of ready) {
      assert.equal(typeof line.pid, 'number')
      assert.equal(line.threads, '1:2')
    }
    const listening = cli.logs.filter((l) => l.msg.startsWith('listening on'))
    assert.equal(listening.length, 1)
    assert.match(listening[0].msg, /^listening on http:\/\/127\.0\.0\.1:\d+$/)
    assert.equal(listening[0].pid, cli.proc.pid)
    // --threads reached the plugin in every process.
    const { body } = await get(url, '/threads', agent)
    assert.deepEqual(body, { min: 1, max: 2 })
    const pids = new Set()
    for (let i = 0; i < 6; i++) pids.add((await get(url, '/pid', agent)).body.pid)
    assert.deepEqual([...pids].sort(), ready.map((l) => l.pid).sort(), 'both processes serve the one port')
    const thread = await get(url, '/thread', agent)
    assert.equal(thread.body.thread, true)
  })

  test('SIGHUP reloads: every process replaced, one at a time', async () => {
    const before = await readyPids(cli)
    process.kill(cli.proc.pid, 'SIGHUP')
    const done = await cli.logs.waitFor((l) => l.msg === 'reload finished', 30_000)
    assert.equal(done.pids.length, 2)
    for (const pid of done.pids) assert.ok(!before.includes(pid))
    const served = new Set()
    for (let i = 0; i < 6; i++) served.add((await get(url, '/pid', agent)).body.pid)
    for (const pid of served) assert.ok(done.pids.includes(pid), 'only new processes answer')
  })

  test('SIGTTIN adds a process, SIGTTOU removes one gracefully', async () => {
    const forks = forkedPids(cli.logs.lines).length
    process.kill(cli.proc.pid, 'SIGTTIN')
    await cli.logs.waitFor((l) => l.msg === 'process ready' && l.reason === 'scale', 30_000)
    assert.equal(forkedPids(cli.logs.lines).length, forks + 1)
    process.kill(cli.proc.pid, 'SIGTTOU')
    const exited = await cli.logs.waitFor((l) => l.msg === 'process exited' && l.reason === 'scale', 30_000)
    assert.equal(exited.code, 0)
    assert.match(cli.logs.find((l) => l.msg.startsWith('scaling from 3 to 2')).msg, /3 to 2/)
  })

  test('SIGTERM with a request in flight: it completes with 200, then exit 0', async (t) => {
    // One in the event loop, one in a worker thread: both must finish.
    const dir = tempDir()
    t.after(dir.remove)
    const marks = [dir.file('slow'), dir.file('thread')]
    const slow = get(url, `/slow?ms=1500&mark=${encodeURIComponent(marks[0])}`, agent)
    const inThread = get(url, `/thread?ms=1500&mark=${encodeURIComponent(marks[1])}`, agent)
    await until(() => marks.every((m) => existsSync(m)), { what: 'both requests to be in flight' })
    process.kill(cli.proc.pid, 'SIGTERM')
    const [a, b] = await Promise.all([slow, inThread])
    assert.equal(a.status, 200)
    assert.equal(a.body.slow, true)
    assert.equal(b.status, 200)
    assert.equal(b.body.thread, true)
    const { code } = await cli.exited
    assert.equal(code, 0)
    assert.ok(cli.logs.find((l) => l.msg === 'stopped' && l.exitCode === 0))
    for (const pid of forkedPids(cli.logs.lines)) await until(() => !isRunning(pid), { what: `pid ${pid} gone` })
  })
})

test('SIGTERM with requests running past --graceful-timeout: each answered 503 + Connection: close before the kill', { timeout: 60_000 }, async (t) => {
  // The app's closeTimeout is 30 s; the cluster's grace is 3 s: the child must keep the latter.
  await answeredBeforeTheKill(t, 'app.js')
})

test('an app module that throws: start fails with its error, exit 1, no fork loop', { timeout: 60_000 }, async (t) => {
  const cli = runCli(['start', fixture('throws.js'), '--processes', '2', '--port', '0'])
  t.after(() => cli.kill())
  const { code } = await cli.exited
  assert.equal(code, 1)
  assert.match(cli.stderr, /failed to boot: fixture: the app module refuses to build/)
  assert.equal(forkedPids(cli.logs.lines).length, 2, 'each process forked once, none again')
  assert.equal(cli.logs.find((l) => l.msg.startsWith('respawning')), undefined)
  assert.ok(cli.logs.find((l) => l.msg.startsWith('start failed') && l.reason === 'boot-failure'))
})

for (const [file, line] of [['broken.js', /broken\.js:3:\d+/], ['broken-syntax.js', /broken-syntax\.js:3\b/]]) {
  test(`an app module that fails to build (${file}): the plain-text line names its file and line`, { timeout: 60_000 }, async (t) => {
    const cli = runCli(['start', fixture(file), '--processes', '1', '--port', '0'])
    t.after(() => cli.kill())
    const { code } = await cli.exited
    assert.equal(code, 1)
    const [first] = cli.stderr.split('\n')
    assert.match(first, /^fastify-mpm: process \d+ failed to boot: .+ \(at test\/fixtures\/cluster\//)
    assert.match(first, line)
  })
}

for (const processes of [1, 2, 4]) {
  test(`a port already taken, ${processes} process(es): start fails with one clean EADDRINUSE line, exit 1`, { timeout: 60_000 }, async (t) => {
    const blocker = createServer()
    await new Promise((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    t.after(() => blocker.close())
    const cli = runCli(['start', fixture('app.js'), '--processes', String(processes), '--port', String(blocker.address().port)])
    t.after(() => cli.kill())
    const { code } = await cli.exited
    assert.equal(code, 1)
    // No Node internals trace from a child closing while node:cluster's listen was pending.
    assert.match(cli.stderr, /^fastify-mpm: process \d+ failed to boot: bind EADDRINUSE 127\.0\.0\.1:\d+ \(EADDRINUSE\)\n$/)
    assert.equal(forkedPids(cli.logs.lines).length, processes)
  })
}

test('processes that keep crashing after boot: respawned with backoff, then the crash loop stops the cluster', { timeout: 90_000 }, async (t) => {
  const cli = runCli(['start', fixture('app.js'), '--processes', '2', '--port', '0'], { env: { FIXTURE_CRASH_AFTER_MS: '100' } })
  t.after(() => cli.kill())
  const { code } = await cli.exited
  assert.equal(code, 1)
  const loop = cli.logs.find((l) => l.reason === 'crash-loop')
  assert.ok(loop, 'the crash loop was reported')
  assert.match(loop.msg, /crash loop: 5 processes in a row died/)
  const delays = cli.logs.filter((l) => l.msg.startsWith('respawning')).map((l) => l.delayMs)
  assert.deepEqual(delays.slice(0, 4), [250, 500, 1000, 2000], 'exponential backoff')
  assert.ok(forkedPids(cli.logs.lines).length <= 2 + 4, 'forking stopped at the crash loop')
  for (const pid of forkedPids(cli.logs.lines)) await until(() => !isRunning(pid), { what: `pid ${pid} gone` })
})

const stripsTypes = ['strip', 'transform'].includes(process.features.typescript)

test(`a TypeScript app module with no tsx in reach: ${stripsTypes ? 'runs on Node\'s type stripping' : 'refused, naming the file and what to do'}`, { timeout: 60_000 }, async (t) => {
  // Outside the repository, where no tsx resolves; an http.Server app needs no package either.
  const dir = tempDir()
  t.after(dir.remove)
  const app = dir.file('app.ts')
  writeFileSync(app, `import { createServer, type Server } from 'node:http'
interface PidReply { pid: number, typescript: true }
export default function build (): Server {
  return createServer((req, res) => {
    const body: PidReply = { pid: process.pid, typescript: true }
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify(body))
  })
}
`)
  const cli = runCli(['start', app, '--processes', '1', '--port', '0'])
  t.after(() => cli.kill())
  if (!stripsTypes) {
    const { code } = await cli.exited
    assert.equal(code, 2)
    assert.ok(cli.stderr.includes(app), cli.stderr)
    assert.match(cli.stderr, /does not strip types: install "tsx"/)
    return
  }
  const url = await cli.listening()
  const agent = new Agent({ keepAliveTimeout: 100 })
  t.after(() => agent.close())
  const { status, body } = await get(url, '/pid', agent)
  assert.equal(status, 200)
  assert.equal(body.typescript, true)
  process.kill(cli.proc.pid, 'SIGTERM')
  assert.equal((await cli.exited).code, 0)
})

test('a TypeScript app module runs under tsx', { timeout: 60_000 }, async (t) => {
  const cli = runCli(['start', fixture('app.ts'), '--processes', '2', '--port', '0'])
  t.after(() => cli.kill())
  const url = await cli.listening()
  const agent = new Agent({ keepAliveTimeout: 100 })
  t.after(() => agent.close())
  const { status, body } = await get(url, '/pid', agent)
  assert.equal(status, 200)
  assert.equal(body.typescript, true)
  assert.equal((await get(url, '/thread', agent)).body.thread, true)
  process.kill(cli.proc.pid, 'SIGTERM')
  assert.equal((await cli.exited).code, 0)
})
