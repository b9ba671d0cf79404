#!/usr/bin/env node
// Prints, one per line, the node_modules folders (relative to the repo root) that the packed
// benchmark needs at runtime: the package's own dependencies, fastify (its peer) and autocannon
// (the load generator), each with its dependencies, resolved the way Node does (nearest
// node_modules first, then the folders above). Optional dependencies that are not installed are
// skipped; a missing required one is an error. Used by bench/device/pack.sh.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const roots = [...Object.keys(pkg.dependencies ?? {}), 'fastify', 'autocannon']

function resolve (name, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name)
    if (existsSync(join(candidate, 'package.json'))) return candidate
    if (dir === root || dirname(dir) === dir) return undefined
  }
}

const found = new Set()
const queue = roots.map((name) => ({ name, from: root, optional: false, by: 'package.json' }))
while (queue.length > 0) {
  const { name, from, optional, by } = queue.shift()
  const dir = resolve(name, from)
  if (dir === undefined) {
    if (optional) continue
    console.error(`deps: ${name} (needed by ${by}) is not installed: run npm ci first`)
    process.exit(1)
  }
  if (found.has(dir)) continue
  found.add(dir)
  const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  const by2 = `${meta.name}@${meta.version}`
  for (const dep of Object.keys(meta.dependencies ?? {})) queue.push({ name: dep, from: dir, optional: false, by: by2 })
  for (const dep of Object.keys(meta.optionalDependencies ?? {})) queue.push({ name: dep, from: dir, optional: true, by: by2 })
  // Peers are installed beside their users by npm >= 7; take the ones that are there.
  for (const dep of Object.keys(meta.peerDependencies ?? {})) queue.push({ name: dep, from: dir, optional: true, by: by2 })
}

// A package nested inside another's node_modules travels with its parent's folder anyway.
const dirs = [...found].map((d) => relative(root, d)).sort()
const top = dirs.filter((d) => !dirs.some((other) => other !== d && d.startsWith(`${other}/node_modules/`)))
console.log(top.join('\n'))
