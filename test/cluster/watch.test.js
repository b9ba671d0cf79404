// `fastify-mpm start --watch`: a change under the app's folder reloads every process gracefully
// (new pids serve, no request fails); changes under node_modules and dot-folders do not.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { tempDir } from '../helpers/util.js'
import { runCli, steadyLoad, until } from '../fixtures/cluster/helpers.js'

const root = fileURLToPath(new URL('../../', import.meta.url))

/** A throw-away app folder: the cluster fixture app, resolving fastify-mpm through the repository's node_modules. */
function appFolder (dir) {
  const app = join(dir.root, 'app')
  mkdirSync(join(app, 'lib'), { recursive: true })
  cpSync(fileURLToPath(new URL('../fixtures/cluster/app.js', import.meta.url)), join(app, 'app.js'))
  cpSync(fileURLToPath(new URL('../fixtures/cluster/handler.js', import.meta.url)), join(app, 'handler.js'))
  mkdirSync(join(app, 'handlers'))
  cpSync(fileURLToPath(new URL('../fixtures/handlers/leak.js', import.meta.url)), join(app, 'handlers/leak.js'))
  // app.js reaches ../handlers/leak.js: keep that path valid one level up.
  mkdirSync(join(dir.root, 'handlers'), { recursive: true })
  cpSync(join(app, 'handlers/leak.js'), join(dir.root, 'handlers/leak.js'))
  mkdirSync(join(app, 'node_modules'))
  symlinkSync(join(root, 'node_modules/fastify'), join(app, 'node_modules/fastify'), 'dir')
  symlinkSync(root, join(app, 'node_modules/fastify-mpm'), 'dir')
  mkdirSync(join(app, '.cache'))
  writeFileSync(join(app, 'lib/util.js'), 'export const version = 1\n')
  return app
}

test('--watch: touching a file reloads every process with no failed request; node_modules and dot-folders are ignored', { timeout: 90_000 }, async (t) => {
  const dir = tempDir('fastify-mpm-watch-')
  t.after(dir.remove)
  const app = appFolder(dir)
  const cli = runCli(['start', join(app, 'app.js'), '--watch', '--processes', '1', '--threads', '1', '--port', '0', '--graceful-timeout', '4000'])
  t.after(() => cli.kill())
  const url = await cli.listening()
  assert.ok(cli.logs.find((l) => l.reason === 'watch' && /watching for changes/.test(l.msg)), 'says it watches')
  const first = cli.logs.filter((l) => l.msg === 'process ready').map((l) => l.pid)
  assert.equal(first.length, 1)

  // Ignored places: no reload.
  writeFileSync(join(app, 'node_modules/touched.js'), 'x')
  writeFileSync(join(app, '.cache/touched'), 'x')
  await sleep(1000)
  assert.equal(cli.logs.find((l) => l.msg === 'reload started'), undefined, 'no reload for node_modules or .cache')

  const load = steadyLoad(url, { connections: 2, pauseMs: 10 })
  await until(() => load.stats.ok >= 20, { what: 'the load to get going' })
  writeFileSync(join(app, 'lib/util.js'), 'export const version = 2\n')   // a nested file, as an editor saves it
  const done = await cli.logs.waitFor((l) => l.msg === 'reload finished', 30_000)
  assert.equal(done.pids.length, 1)
  assert.notEqual(done.pids[0], first[0], 'a new process')
  await until(() => load.stats.pids.has(done.pids[0]), { what: 'the new process to serve' })
  const stats = await load.stop()
  assert.deepEqual(stats.errors, [], 'no request failed')
  assert.deepEqual(stats.badStatus, [], 'no request failed')
  const reloads = cli.logs.filter((l) => l.msg === 'reload started')
  assert.equal(reloads.length, 1, 'one save, one reload (debounced)')
  assert.match(cli.logs.find((l) => l.reason === 'watch' && /changed: reloading/.test(l.msg)).file, /lib[\\/]util\.js$/)

  process.kill(cli.proc.pid, 'SIGTERM')
  assert.equal((await cli.exited).code, 0, 'the watcher does not keep the primary alive')
})
