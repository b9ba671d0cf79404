// Loads handler modules by URL, once per thread. A TypeScript handler is imported as is where
// the running Node strips types itself (22.18+, 23.6+, 24: `process.features.typescript`), and
// goes through tsx's `tsImport` where it does not, or where Node refuses the file (syntax that
// needs transforming, like enums; a .tsx file; extensionless imports written for tsx). Not a
// plain `--import tsx`: on Node 20 a worker thread does not inherit the loader hooks that tsx
// installs in the main thread, so a plain import() of a .ts file fails there.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'

type Namespace = Record<string, unknown>
type TsImport = (specifier: string, parent: string) => Promise<Namespace>

const modules = new Map<string, Promise<Namespace>>()
const TS_FILE = /\.[cm]?tsx?$/

/** Whether this Node imports TypeScript itself (type stripping, on by default from 22.18 and 23.6). */
export function nodeStripsTypes (): boolean {
  const mode = (process.features as { typescript?: unknown }).typescript
  return mode === 'strip' || mode === 'transform'
}

// What Node says of a TypeScript file it will not run as is, where tsx may still.
const NOT_STRIPPABLE = new Set([
  'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX', 'ERR_INVALID_TYPESCRIPT_SYNTAX', 'ERR_UNKNOWN_FILE_EXTENSION',
  'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING', 'ERR_MODULE_NOT_FOUND'
])

async function importTypeScript (href: string): Promise<Namespace> {
  if (!nodeStripsTypes()) return await (await loadTsImport(href))(href, import.meta.url)
  try {
    return await import(href) as Namespace
  } catch (err) {
    if (!NOT_STRIPPABLE.has((err as { code?: string }).code ?? '')) throw err
    let tsImport: TsImport
    try {
      tsImport = await loadTsImport(href)
    } catch {
      // No tsx: Node's own error says what it could not run, and where (a missing file as such).
      if ((err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') throw err
      throw Object.assign(new Error(`${(err as Error).message} (Node's type stripping cannot run ${href}: install "tsx" in the app, npm i -D tsx, or compile the handler to JavaScript)`), { code: (err as { code?: string }).code })
    }
    return await tsImport(href, import.meta.url)
  }
}

async function loadTsImport (href: string): Promise<TsImport> {
  let api: { tsImport: TsImport }
  try {
    // Resolve tsx from the app's side, where it is installed, not from this package; require.resolve
    // would pick the CommonJS build, so read the ESM entry from tsx's own export map.
    const pkgPath = createRequire(fileURLToPath(href)).resolve('tsx/package.json')
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports: Record<string, { import: { default: string } }> }
    api = await import(new URL(pkg.exports['./esm/api'].import.default, pathToFileURL(pkgPath)).href)
  } catch {
    throw new Error(`${href} is TypeScript and this Node.js (${process.version}) does not strip types: install "tsx" in the app (npm i -D tsx), use Node.js 22.18+, or compile the handler to JavaScript`)
  }
  return api.tsImport
}

export function importHandlerModule (href: string): Promise<Namespace> {
  let loading = modules.get(href)
  if (loading === undefined) {
    loading = href.startsWith('file:') && TS_FILE.test(new URL(href).pathname)
      ? importTypeScript(href)
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
