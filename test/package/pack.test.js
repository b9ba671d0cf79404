// The package as someone else gets it: a copy of the repository as a fresh clone has it (no
// dist/) is packed with `npm pack`, the tarball is installed beside fastify into an empty app from
// npm's cache (offline: the repository's own lockfile pins every version `npm ci` already
// fetched), and that app runs every file the README shows, as pasted: the first app (Fastify),
// the cluster app (under the installed CLI) and the Express server, the handler modules under
// both adapters; then it type-checks against the package's types and runs `npx fastify-mpm --version`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { send } from '../helpers/app.js'
import { tempDir, withDeadline } from '../helpers/util.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../../', import.meta.url))
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'))

/** npm under the Node.js running this test, without the outer `npm test`'s package context. */
function npmEnv () {
  const keep = new Set(['npm_config_cache', 'npm_config_userconfig', 'npm_config_globalconfig', 'npm_config_registry', 'npm_config_cafile'])
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) || keep.has(k.toLowerCase())))
  delete env.INIT_CWD
  env.PATH = `${dirname(process.execPath)}${delimiter}${env.PATH ?? ''}`
  return { ...env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' }
}

async function npm (args, cwd) {
  return await run('npm', args, { cwd, env: npmEnv(), maxBuffer: 64 * 1024 * 1024, timeout: 120_000 })
}

/** The README's code blocks, keyed by the file their first line names (`// server.js`). */
function readmeFiles () {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const files = {}
  for (const [, body] of readme.matchAll(/```js\n([\s\S]*?)```/g)) {
    const name = /^\/\/ ([\w./-]+\.js)\b/.exec(body)?.[1]
    if (name !== undefined && !(name in files)) files[name] = body
  }
  return files
}

/** Every file the README shows, and what runs it below: a new one must be run here too. */
const README_FILES = ['app.js', 'express-server.js', 'handlers/crash.js', 'handlers/export.js', 'handlers/fib.js', 'handlers/hash.js', 'handlers/text.js', 'server.js']

/** Starts `node file` in `cwd` and resolves with the URL it prints (`pattern`'s first group). */
async function listening (t, cwd, file, pattern, what) {
  const child = spawn(process.execPath, [file], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => child.kill('SIGKILL'))
  let out = ''
  child.stderr.on('data', (chunk) => { out += chunk })
  const url = await withDeadline(new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      out += chunk
      const found = pattern.exec(out)
      if (found) resolve(found[1])
    })
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}:\n${out}`)))
  }), 30_000, what)
  return { child, url, output: () => out }
}

test('every handler module a README snippet routes to is shown in the README', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const shown = new Set(Object.keys(readmeFiles()))
  const routed = new Set([...readme.matchAll(/```js\n([\s\S]*?)```/g)]
    .flatMap((m) => [...m[1].matchAll(/new URL\('\.\/(handlers\/[\w./-]+\.js)', import\.meta\.url\)/g)].map((r) => r[1])))
  assert.ok(routed.size > 0, 'the README routes to handler modules')
  const missing = [...routed].filter((file) => !shown.has(file))
  assert.deepEqual(missing, [], `a snippet routes to ${missing.join(', ')}, which no README block shows (a block whose first line is "// ${missing[0]}")`)
})

function findAll (dir, name, found = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue
    const path = join(dir, entry.name)
    if (entry.name === name && existsSync(join(path, 'package.json'))) found.push(path)
    findAll(path, name, found)
  }
  return found
}

test('a fresh clone packs into a complete tarball that installs beside fastify and works', { timeout: 300_000 }, async (t) => {
  let tracked
  try {
    const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, maxBuffer: 16 * 1024 * 1024 })
    tracked = stdout.split('\0').filter((f) => f !== '' && existsSync(join(root, f)))
  } catch (err) {
    t.skip(`not a git checkout, so no fresh clone to copy: ${err.message}`)
    return
  }
  const dir = tempDir('fastify-mpm-pack-')
  t.after(dir.remove)

  // -- a fresh clone, packed: `prepare` builds dist/ --
  const clone = join(dir.root, 'clone')
  for (const file of tracked) {
    mkdirSync(dirname(join(clone, file)), { recursive: true })
    copyFileSync(join(root, file), join(clone, file))
  }
  assert.equal(existsSync(join(clone, 'dist')), false, 'a clone has no dist/')
  // Its dev dependencies, as `npm install` in the clone would provide them.
  symlinkSync(join(root, 'node_modules'), join(clone, 'node_modules'), 'dir')
  await npm(['pack', '--pack-destination', dir.root], clone)
  const tarball = join(dir.root, `fastify-mpm-${pkg.version}.tgz`)
  const { stdout: listing } = await run('tar', ['-tzf', tarball])
  const files = listing.split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''))
  for (const file of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'dist/index.js', 'dist/index.d.ts',
    'dist/fastify/plugin.js', 'dist/core/thread.js', 'dist/cluster/cli.js', 'dist/cluster/child-entry.js']) {
    assert.ok(files.includes(file), `the tarball has ${file}`)
  }
  for (const js of files.filter((f) => f.endsWith('.js'))) assert.ok(files.includes(js.replace(/\.js$/, '.d.ts')), `${js} has its .d.ts`)
  assert.deepEqual(files.filter((f) => /^(lib|test|bench|examples|\.ci)\//.test(f)), [], 'sources, tests and tools stay out')

  // Source maps carry their sources (lib/ is not shipped).
  const unpacked = join(dir.root, 'unpacked')
  mkdirSync(unpacked)
  await run('tar', ['-xzf', tarball, '-C', unpacked])
  const maps = files.filter((f) => f.endsWith('.js.map'))
  assert.ok(maps.length >= files.filter((f) => f.endsWith('.js')).length, 'a map per module')
  for (const file of maps) {
    const map = JSON.parse(readFileSync(join(unpacked, 'package', file), 'utf8'))
    assert.equal(map.sourcesContent?.length, map.sources.length, `${file} inlines its sources`)
    assert.ok(map.sourcesContent.every((s) => typeof s === 'string' && s.length > 0), `${file} inlines its sources`)
  }

  // -- an empty app: the tarball beside fastify, from npm's cache --
  const app = join(dir.root, 'app')
  mkdirSync(join(app, 'handlers'), { recursive: true })
  const version = (name) => lock.packages[`node_modules/${name}`].version
  const dependencies = { fastify: version('fastify'), express: version('express'), 'fastify-mpm': `file:${tarball}`, typescript: version('typescript'), '@types/node': version('@types/node') }
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'first-app', private: true, type: 'module', dependencies }, null, 2))
  const packages = { '': { name: 'first-app', dependencies } }
  for (const [path, entry] of Object.entries(lock.packages)) if (path.startsWith('node_modules/')) packages[path] = entry
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify({ name: 'first-app', lockfileVersion: 3, requires: true, packages }, null, 2))
  let install
  try {
    install = await npm(['install', '--offline', '--no-audit', '--no-fund'], app)
  } catch (err) {
    if (/ENOTCACHED/.test(err.stderr ?? '')) {
      t.skip(`npm's cache lacks a package the app needs (run npm ci first); offline install said: ${err.stderr.split('\n').find((l) => /ENOTCACHED/.test(l))}`)
      return
    }
    throw err
  }
  if (Number(process.versions.node.split('.')[0]) >= 22) {
    assert.doesNotMatch(install.stderr, /EBADENGINE/, 'no engine warning on a supported Node.js line')
  }
  const pinos = findAll(join(app, 'node_modules'), 'pino')
  assert.equal(pinos.length, 1, `one pino in the app: ${pinos.join(', ')}`)

  // -- the README's first app, as pasted (on a free port instead of 3000) --
  const readme = readmeFiles()
  assert.deepEqual(Object.keys(readme).sort(), README_FILES, 'every file the README shows is run below')
  assert.match(readme['server.js'], /port: 3000/)
  writeFileSync(join(app, 'server.js'), readme['server.js'].replace('port: 3000', "port: 0, host: '127.0.0.1'"))
  for (const file of ['handlers/fib.js', 'handlers/text.js']) writeFileSync(join(app, file), readme[file])
  const first = await listening(t, app, 'server.js', /Server listening at (http:\/\/127\.0\.0\.1:\d+)/, 'the README app to listen')
  const url = first.url
  assert.match(first.output(), /"msg":"fastify-mpm: offloaded routes: GET \/fib\/:n → fib\.js#default, HEAD \/fib\/:n → fib\.js#default"/)
  const fib = await send(`${url}/fib/20`)
  assert.equal(fib.status, 200, fib.text)
  assert.deepEqual(fib.json(), { n: 20, value: 6765 })
  assert.deepEqual((await send(`${url}/hello`)).json(), { hello: 'world' })
  assert.equal((await send(`${url}/fib/99`)).status, 422)
  first.child.kill('SIGINT')

  // -- the README's Express server, as pasted (on a free port), with the same handler files --
  assert.match(readme['express-server.js'], /app\.listen\(3000, /)
  writeFileSync(join(app, 'express-server.js'), readme['express-server.js'].replace('app.listen(3000, ', 'app.listen(0, '))
  const ex = await listening(t, app, 'express-server.js', /listening on (http:\/\/127\.0\.0\.1:\d+)/, 'the README Express server to listen')
  assert.deepEqual((await send(`${ex.url}/fib/20`)).json(), { n: 20, value: 6765 })
  assert.equal((await send(`${ex.url}/fib/99`)).status, 422)
  const upper = await send(`${ex.url}/upper`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'shout' }) })
  assert.equal(upper.status, 200, upper.text)
  assert.equal(upper.text, 'SHOUT')
  assert.equal(upper.headers['x-computed-by'], 'worker thread')
  assert.deepEqual((await send(`${ex.url}/hello`)).json(), { hello: 'world' })
  assert.match((await send(`${ex.url}/server-status?auto`)).text, /^Total Accesses: \d+$/m)
  assert.match((await send(`${ex.url}/metrics`)).text, /^fastify_mpm_threads\{/m)
  ex.child.kill('SIGINT')

  // handlers/text.js under Fastify too: routed as its own comment says.
  writeFileSync(join(app, 'text-server.js'), `import Fastify from 'fastify'
import mpm, { offload } from 'fastify-mpm'
const app = Fastify({ logger: true })
await app.register(mpm, { threads: 1 })
${/^\/\/ (app\.post\(.*\))$/m.exec(readme['handlers/text.js'])[1]}
await app.listen({ port: 0, host: '127.0.0.1' })
`)
  const text = await listening(t, app, 'text-server.js', /Server listening at (http:\/\/127\.0\.0\.1:\d+)/, 'the text.js route to listen')
  const shouted = await send(`${text.url}/upper`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'shout' }) })
  assert.equal(shouted.text, 'SHOUT')
  assert.equal(shouted.headers['x-computed-by'], 'worker thread')
  text.child.kill('SIGINT')

  // -- the README's streamed export and its crashing handler in a process pool, from the tarball --
  for (const file of ['handlers/export.js', 'handlers/crash.js']) writeFileSync(join(app, file), readme[file])
  writeFileSync(join(app, 'pools.js'), `import Fastify from 'fastify'
import mpm, { offload } from 'fastify-mpm'
const app = Fastify({ logger: true })
await app.register(mpm, { threads: 1, pools: { legacy: { threads: 1, isolation: 'process' } } })
app.get('/export', offload(new URL('./handlers/export.js', import.meta.url)))
app.get('/crash', offload(new URL('./handlers/crash.js', import.meta.url), { pool: 'legacy' }))
app.get('/hello', async () => ({ hello: 'world' }))
await app.listen({ port: 0, host: '127.0.0.1' })
`)
  const pooled = await listening(t, app, 'pools.js', /Server listening at (http:\/\/127\.0\.0\.1:\d+)/, 'the pools app to listen')
  const exported = await send(`${pooled.url}/export`)
  assert.equal(exported.status, 200)
  assert.match(exported.headers['content-type'], /^text\/csv/)
  const rows = exported.text.split('\n')
  assert.deepEqual(rows.slice(0, 2), ['1,7', '2,14'])
  assert.equal(rows.length, 1_000_001, 'a million rows, streamed from the thread')
  const crashed = await send(`${pooled.url}/crash`)
  assert.equal(crashed.status, 500)
  assert.equal(crashed.json().code, 'FST_MPM_PROCESS_CRASHED')
  assert.deepEqual((await send(`${pooled.url}/hello`)).json(), { hello: 'world' }, 'the server outlived the crash')
  pooled.child.kill('SIGINT')

  // -- the README's cluster app, as pasted, under the installed CLI --
  assert.ok(readme['app.js'] && readme['handlers/hash.js'], 'the README shows app.js and handlers/hash.js')
  writeFileSync(join(app, 'app.js'), readme['app.js'])
  writeFileSync(join(app, 'handlers/hash.js'), readme['handlers/hash.js'])
  const primary = spawn(process.execPath, [join(app, 'node_modules/.bin/fastify-mpm'), 'start', './app.js', '--processes', '2', '--threads', '1', '--port', '0'],
    { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => primary.kill('SIGKILL'))
  let logged = ''
  primary.stderr.on('data', (chunk) => { logged += chunk })
  const primaryExit = new Promise((resolve) => primary.once('exit', (code) => resolve(code)))
  const clusterUrl = await withDeadline(new Promise((resolve, reject) => {
    primary.stdout.on('data', (chunk) => {
      logged += chunk
      const found = /"msg":"listening on (http:\/\/127\.0\.0\.1:\d+)"/.exec(logged)
      if (found) resolve(found[1])
    })
    primaryExit.then((code) => reject(new Error(`fastify-mpm start exited with ${code}:\n${logged}`)))
  }), 60_000, 'the README cluster app to listen')
  assert.equal((await send(`${clusterUrl}/hash?rounds=1000`)).json().rounds, 1000)
  assert.deepEqual((await send(`${clusterUrl}/hello`)).json(), { hello: 'world' })
  primary.kill('SIGTERM')
  assert.equal(await withDeadline(primaryExit, 30_000, 'the cluster to stop'), 0)

  // -- its types, under the app's own tsc --
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] },
    files: ['check.ts']
  }))
  writeFileSync(join(app, 'check.ts'), `import Fastify from 'fastify'
import mpm, { offload, cluster, type MpmOptions, type OffloadReply, type OffloadRequest } from 'fastify-mpm'

const app = Fastify()
const options: MpmOptions = { threads: { min: 1, max: 2 }, status: true }
await app.register(mpm, options)
app.get<{ Params: { n: string } }>('/fib/:n', offload(new URL('./handlers/fib.js', import.meta.url), { timeout: 1000 }))
const busy: number = app.mpm.stats().busy
export function handler (req: OffloadRequest<{ Params: { n: string } }>, reply: OffloadReply): number {
  reply.code(200)
  return Number(req.params.n) + busy
}
export const start = async (): Promise<number> => (await cluster({ app: new URL('./server.js', import.meta.url), processes: 2 })).address.port
// @ts-expect-error taskTimeout is a number of ms
await app.register(mpm, { taskTimeout: 'soon' })
`)
  const tsc = join(app, 'node_modules/typescript/bin/tsc')
  const checked = await run(process.execPath, [tsc, '-p', app], { cwd: app }).catch((err) => err)
  assert.equal(checked.code ?? 0, 0, `tsc --noEmit:\n${checked.stdout}`)

  // -- its command line --
  const { stdout: printed } = await run('npx', ['--offline', 'fastify-mpm', '--version'], { cwd: app, env: npmEnv() })
  assert.equal(printed.trim(), pkg.version)
  const help = await run('npx', ['--offline', 'fastify-mpm', '--help'], { cwd: app, env: npmEnv() })
  assert.match(help.stdout, /Usage: fastify-mpm start <app module>/)

})
