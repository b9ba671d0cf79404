// The test helpers' close(), as `t.after(srv.close)` calls it: node:test passes the TestContext
// as the first argument, which must not be taken for the grace period (a NaN timeout fires at
// once, cutting requests still in flight, and Node 24 warns TimeoutNaNWarning for each).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import express from 'express'
import { offload } from 'fastify-mpm'
import { startApp } from './app.js'
import { startExpress } from '../express/helpers.js'

const handlers = new URL('../fixtures/status/handlers.js', import.meta.url)
const SLOW = '/slow?ms=300'

/** Calls close(t) while a slow offloaded request is in flight; it must still be answered. */
async function closeWithContext (t, srv) {
  const warnings = []
  const onWarning = (w) => warnings.push(w.name)
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))
  const answer = srv.request(SLOW)
  await sleep(50)
  await srv.close(t)
  const res = await answer
  assert.equal(res.status, 200, 'the request in flight was answered, not cut')
  assert.deepEqual(res.json(), { waited: true })
  await sleep(10) // warnings are emitted on the next tick
  assert.deepEqual(warnings.filter((name) => name === 'TimeoutNaNWarning'), [])
}

test('Fastify helper: close(TestContext) keeps the default grace period', { timeout: 10_000 }, async (t) => {
  const srv = await startApp({ threads: 1 }, (app) => { app.get('/slow', offload(handlers, { export: 'wait' })) })
  await closeWithContext(t, srv)
})

test('Express helper: close(TestContext) keeps the default grace period', { timeout: 10_000 }, async (t) => {
  const srv = await startExpress(express, { threads: 1 }, (app, mpm) => { app.get('/slow', mpm.offload(handlers, { export: 'wait' })) })
  await closeWithContext(t, srv)
})
