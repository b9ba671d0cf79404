// Builds dist/ only when it is missing or older than its sources (lib/, tsconfig.json): `npm
// install` in a clone has just built it (`prepare`), so `npm run demo` right after must not build
// again, while a fresh clone or an edited lib/ still gets its build. No dependencies beyond
// the TypeScript compiler the build itself uses. Usage: node examples/demo/build-if-stale.js [root]
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(process.argv[2] ?? fileURLToPath(new URL('../..', import.meta.url)))

/** The newest modification time under `path` (a file or a folder), 0 when it is not there. */
function newest (path) {
  if (!existsSync(path)) return 0
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  let latest = 0
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)))
  return latest
}

const built = join(root, 'dist', 'index.js')
const sources = Math.max(newest(join(root, 'lib')), newest(join(root, 'tsconfig.json')))
if (existsSync(built) && statSync(built).mtimeMs >= sources) process.exit(0)

console.log(existsSync(built) ? 'lib/ changed since the last build: building dist/' : 'no dist/ yet: building it')
const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc')
const { status } = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' })
process.exit(status ?? 1)
