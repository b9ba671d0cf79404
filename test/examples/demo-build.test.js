// `npm run demo` builds dist/ only when it is missing or older than lib/: right after `npm
// install` (whose `prepare` built it) it starts at once. Checked on a scratch package whose
// TypeScript compiler is a stub that records each call, so no real build runs here.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { tempDir } from '../helpers/util.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../../', import.meta.url))
const SCRIPT = join(root, 'examples/demo/build-if-stale.js')

test('npm run demo builds only when dist/ is missing or older than lib/', { timeout: 30_000 }, async (t) => {
  const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  assert.match(scripts.demo, /^node examples\/demo\/build-if-stale\.js && node examples\/demo\/server\.js$/)
  assert.match(scripts.prepare, /npm run build/, 'npm install builds (prepare), which is why demo need not')

  const dir = tempDir()
  t.after(dir.remove)
  const pkg = dir.root
  writeFileSync(join(pkg, 'package.json'), '{ "name": "scratch", "type": "module" }\n')
  writeFileSync(join(pkg, 'tsconfig.json'), '{}\n')
  mkdirSync(join(pkg, 'lib'))
  writeFileSync(join(pkg, 'lib/index.ts'), 'export const x = 1\n')
  const stub = join(pkg, 'node_modules/typescript/bin')
  mkdirSync(stub, { recursive: true })
  writeFileSync(join(pkg, 'node_modules/typescript/package.json'), '{ "name": "typescript", "version": "0.0.0" }\n')
  writeFileSync(join(stub, 'tsc'), `const { appendFileSync, mkdirSync, writeFileSync } = require('node:fs')
const { join } = require('node:path')
const root = ${JSON.stringify(pkg)}
appendFileSync(join(root, 'tsc-calls'), 'tsc\\n')
mkdirSync(join(root, 'dist'), { recursive: true })
writeFileSync(join(root, 'dist/index.js'), 'export const x = 1\\n')
`)
  const calls = () => (dir.read('tsc-calls') ?? '').split('\n').filter(Boolean).length
  const demo = async () => (await run(process.execPath, [SCRIPT, pkg])).stdout

  assert.match(await demo(), /no dist\/ yet: building it/)
  assert.equal(calls(), 1, 'a fresh clone builds')
  assert.equal(await demo(), '')
  assert.equal(calls(), 1, 'a fresh build is not built again')
  const later = new Date(Date.now() + 60_000)
  utimesSync(join(pkg, 'lib/index.ts'), later, later)
  assert.match(await demo(), /lib\/ changed since the last build/)
  assert.equal(calls(), 2, 'an edited lib/ is built')
})
