// A TypeScript app module needs a loader in every child, unless Node strips types itself
// (22.18+, 23.6+, 24). Children inherit the primary's execArgv (so `node --import tsx …` just
// works); otherwise tsx, resolved from the app's side, is added where the app has it installed:
// it runs what type stripping cannot (enums, extensionless imports), so an app written for tsx
// keeps working on a newer Node. Without tsx, a Node that strips types runs the app as is.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { FST_MPM_INVALID_OPTION } from '../core/errors.js'
import { nodeStripsTypes } from '../core/handler-module.js'

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
    if (nodeStripsTypes()) return inherited
    throw new FST_MPM_INVALID_OPTION('app', `${appPath} is TypeScript and this Node.js (${process.version}) does not strip types: install "tsx" next to it (npm i -D tsx), start with node --import tsx, use Node.js 22.18+, or compile it to JavaScript`)
  }
  return [...inherited, '--import', loader]
}
