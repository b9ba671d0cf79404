// Where in the app a child's boot failure came from, for the one plain-text line an operator
// reads: `failed to boot: "undefined" is not valid JSON` alone sends them into the JSON log's
// stack to find `broken.js:3:18`. The origin is the first stack frame in the app's own files
// (not Node's internals, not node_modules, not this package), or, for a syntax error in an ES
// module, the file and line Node prints above it (`node --check` finds them: an import()'s
// SyntaxError carries neither).

import { spawnSync } from 'node:child_process'
import { isAbsolute, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

// This package's dist folder: frames in it are ours, never the app's.
const OWN = fileURLToPath(new URL('../', import.meta.url))
const FRAME = /^\s+at (?:.*? \()?(.+?):(\d+):(\d+)\)?$/
const SYNTAX_ERROR_HEAD = /^((?:file:\/\/)?\/.+?):(\d+)$/

/** `path:line:column` (relative to `cwd` when under it) of the app code that threw, if the stack shows it. */
export function appOrigin (stack: string | undefined, cwd = process.cwd()): string | undefined {
  if (stack === undefined) return undefined
  const lines = stack.split('\n')
  const head = SYNTAX_ERROR_HEAD.exec(lines[0])
  if (head !== null) {
    const path = toPath(head[1])
    if (path !== undefined && isAppFile(path)) return `${shown(path, cwd)}:${head[2]}`
  }
  for (const line of lines) {
    const frame = FRAME.exec(line)
    if (frame === null) continue
    const path = toPath(frame[1])
    if (path !== undefined && isAppFile(path)) return `${shown(path, cwd)}:${frame[2]}:${frame[3]}`
  }
  return undefined
}

function toPath (location: string): string | undefined {
  if (location.startsWith('file://')) {
    try {
      return fileURLToPath(location)
    } catch {
      return undefined
    }
  }
  return isAbsolute(location) ? location : undefined
}

function isAppFile (path: string): boolean {
  return !path.startsWith(OWN) && !path.includes('/node_modules/')
}

function shown (path: string, cwd: string): string {
  const rel = relative(cwd, path)
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path
}

/**
 * For a SyntaxError whose stack names no app file: the `path:line` of the app module's own
 * syntax error, as a first stack line appOrigin() reads, or '' when it is not the module's own
 * (an import of it; a .ts file, which `--check` does not read). Run once, as a process fails to boot.
 */
export function syntaxErrorHead (err: unknown, appHref: string): string {
  if (!(err instanceof SyntaxError) || appOrigin(err.stack) !== undefined || !appHref.startsWith('file:')) return ''
  const path = fileURLToPath(appHref)
  if (!/\.[cm]?js$/.test(path)) return ''
  const check = spawnSync(process.execPath, ['--check', path], { encoding: 'utf8', timeout: 5000 })
  const first = check.stderr?.split('\n')[0] ?? ''
  return SYNTAX_ERROR_HEAD.test(first) ? `${first}\n` : ''
}
