// Each adapter loads only its own framework: an Express app that imports fastify-mpm/express
// must not pay for Fastify, and a Fastify app must not load Express.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const RECORD = fileURLToPath(new URL('../fixtures/package/record-imports.mjs', import.meta.url))
const root = fileURLToPath(new URL('../../', import.meta.url))

async function packagesLoadedBy (source) {
  const { stdout } = await run(process.execPath, ['--import', RECORD, '--input-type=module', '-e', source], { cwd: root })
  const line = stdout.split('\n').find((l) => l.startsWith('PACKAGES '))
  assert.ok(line !== undefined, `no package list in:\n${stdout}`)
  return JSON.parse(line.slice('PACKAGES '.length))
}

test('fastify-mpm/express loads no Fastify; the Fastify entry loads no Express', async () => {
  const express = await packagesLoadedBy(`
    import { createMpm } from 'fastify-mpm/express'
    const mpm = createMpm({ threads: 1 })
    await mpm.close()`)
  assert.ok(express.includes('tinypool'), `the pool was loaded: ${express}`)
  for (const name of ['fastify', 'fastify-plugin', 'express']) assert.ok(!express.includes(name), `${name} loaded by fastify-mpm/express: ${express}`)

  const fastify = await packagesLoadedBy(`
    import Fastify from 'fastify'
    import mpm from 'fastify-mpm'
    const app = Fastify()
    await app.register(mpm, { threads: 1 })
    await app.close()`)
  assert.ok(fastify.includes('fastify'))
  assert.ok(!fastify.includes('express'), `express loaded by the Fastify entry: ${fastify}`)
})
