// A TypeScript app module needs a loader in every child. Children inherit the primary's
// execArgv (so `node --import tsx …` just works); otherwise add tsx, resolved from the app's side.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { FST_MPM_INVALID_OPTION } from '../core/errors.js'

const TS_FILE = /\.[cm]?tsx?$/

export function isTypeScript (href: string): boolean {
  return TS_FILE.test(new URL(href).pathname)
}

export function childExecArgv (appHref: string, execArgv: readonly string[] = process.execArgv): string[] {
  // The test runner's own flags mean nothing to a server process.
  const inherited = execArgv.filter((arg) => !arg.startsWith('--test'))
  if (!isTypeScript(appHref) || inherited.some((arg) => arg.includes('tsx'))) return inherited
  const appPath = fileURLToPath(appHref)
  let loader: string
  try {
    const pkgPath = createRequire(appPath).resolve('tsx/package.json')
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports: Record<string, unknown> }
    const entry = pkg.exports['.']
    if (typeof entry !== 'string') throw new Error('unexpected tsx export map')
    loader = new URL(entry, pathToFileURL(pkgPath)).href
  } catch {
    throw new FST_MPM_INVALID_OPTION('app', `${appPath} is TypeScript: install "tsx" next to it (npm i -D tsx), start with node --import tsx, or compile it to JavaScript`)
  }
  return [...inherited, '--import', loader]
}
