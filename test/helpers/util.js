// Small generic helpers: polling, gates a thread can wait on, bounded concurrency.
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Polls `fn` until it returns a truthy value; rejects with `what` after `timeoutMs`. */
export async function waitFor (fn, { timeoutMs = 5000, intervalMs = 10, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await fn()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/**
 * A temporary directory for one test. `gate(name)` gives a path a handler can wait on
 * (it opens when the file exists); `file(name)` gives a path for side effects.
 * Register `t.after(dir.remove)`.
 */
export function tempDir (prefix = 'fastify-mpm-test-') {
  const root = mkdtempSync(join(tmpdir(), prefix))
  return {
    root,
    file: (name) => join(root, name),
    gate (name = 'gate') {
      const path = join(root, name)
      return { path, open: () => writeFileSync(path, 'open'), isOpen: () => existsSync(path) }
    },
    read: (name) => existsSync(join(root, name)) ? readFileSync(join(root, name), 'utf8') : undefined,
    remove: () => rmSync(root, { recursive: true, force: true })
  }
}

/** Runs `count` jobs with at most `concurrency` at a time; resolves with their results in order. */
export async function runConcurrently (count, concurrency, job) {
  const results = new Array(count)
  let next = 0
  async function lane () {
    while (next < count) {
      const i = next++
      results[i] = await job(i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane))
  return results
}

/** Resolves like `promise`, or rejects naming `what` if it takes longer than `ms` (so a test fails, not hangs). */
export async function withDeadline (promise, ms, what = 'operation') {
  let timer
  const deadline = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([promise, deadline])
  } finally {
    clearTimeout(timer)
  }
}

/** A TCP port free on 127.0.0.1 right now, for programs that must be told their port (nginx, an exporter). */
export async function freePort () {
  const server = createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}
