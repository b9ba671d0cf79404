// Loads handler modules by URL, once per thread. TypeScript handlers go through tsx's `tsImport`:
// on Node 20 a worker thread does not inherit the loader hooks that `tsx` installs in the main
// thread, so a plain import() of a .ts file fails there with ERR_UNKNOWN_FILE_EXTENSION.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'

type Namespace = Record<string, unknown>
type TsImport = (specifier: string, parent: string) => Promise<Namespace>

const modules = new Map<string, Promise<Namespace>>()
const TS_FILE = /\.[cm]?tsx?$/

async function loadTsImport (href: string): Promise<TsImport> {
  let api: { tsImport: TsImport }
  try {
    // Resolve tsx from the app's side, where it is installed, not from this package; require.resolve
    // would pick the CommonJS build, so read the ESM entry from tsx's own export map.
    const pkgPath = createRequire(fileURLToPath(href)).resolve('tsx/package.json')
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports: Record<string, { import: { default: string } }> }
    api = await import(new URL(pkg.exports['./esm/api'].import.default, pathToFileURL(pkgPath)).href)
  } catch {
    throw new Error(`${href} is TypeScript: install "tsx" in the app (npm i -D tsx) or compile the handler to JavaScript`)
  }
  return api.tsImport
}

export function importHandlerModule (href: string): Promise<Namespace> {
  let loading = modules.get(href)
  if (loading === undefined) {
    loading = href.startsWith('file:') && TS_FILE.test(new URL(href).pathname)
      ? loadTsImport(href).then(async (tsImport) => await tsImport(href, import.meta.url))
      : import(href) as Promise<Namespace>
    // A failed load is not cached: the file may be fixed, and the error must name it each time.
    loading.catch(() => modules.delete(href))
    modules.set(href, loading)
  }
  return loading
}

export type HandlerFunction = (...args: any[]) => unknown

/** The named export as a function; a CommonJS module's `default` may hold the named exports. */
export async function getHandler (href: string, name: string): Promise<HandlerFunction> {
  const ns = await importHandlerModule(href)
  const fn = pickExport(ns, name)
  if (fn === undefined) {
    throw new Error(`module ${href} has no exported function "${name}" (exports: ${exportNames(ns).join(', ') || 'none'})`)
  }
  return fn
}

export function pickExport (ns: Namespace, name: string): HandlerFunction | undefined {
  let value = ns[name]
  if (value === undefined && name !== 'default' && ns.default !== null && typeof ns.default === 'object') {
    value = (ns.default as Namespace)[name]
  }
  return typeof value === 'function' ? value as HandlerFunction : undefined
}

export function exportNames (ns: Namespace): string[] {
  return Object.keys(ns).filter((key) => typeof ns[key] === 'function')
}
