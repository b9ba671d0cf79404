// createMpm({ isolation: 'process' }) on Express 5 and 4: a handler that kills its process
// (SIGSEGV, abort()) reaches next(err) as one 500 FST_MPM_PROCESS_CRASHED, the pool starts a
// replacement, and inline and offloaded routes keep answering; a stuck child is killed at its
// timeout (503). Real child processes, real HTTP.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { fixture } from '../helpers/app.js'
import { waitFor } from '../helpers/util.js'
import { EXPRESSES, startExpress } from './helpers.js'

const faults = fixture('process-faults.js')

for (const [name, express] of EXPRESSES) {
  describe(`${name}: process isolation`, { timeout: 60_000 }, () => {
    test('SIGSEGV and abort(): one 500 FST_MPM_PROCESS_CRASHED each, the pool heals, 100 concurrent requests all 200; a stuck child is killed (503)', async (t) => {
      const srv = await startExpress(express, { threads: 2, isolation: 'process', taskTimeout: 500 }, (app, mpm) => {
        for (const route of ['segv', 'abort', 'pid', 'spin']) app.get(`/${route}`, mpm.offload(faults, { export: route }))
        app.get('/inline', (req, res) => { res.json({ inline: true }) })
        app.use((err, req, res, next) => { res.status(err.statusCode ?? 500).json({ code: err.code, message: err.message }) })
      })
      t.after(() => srv.close())
      for (const [route, signal] of [['segv', 'SIGSEGV'], ['abort', 'SIGABRT']]) {
        const res = await srv.request(`/${route}`)
        assert.equal(res.status, 500, res.text)
        assert.equal(res.json().code, 'FST_MPM_PROCESS_CRASHED')
        assert.match(res.json().message, new RegExp(signal))
      }
      await waitFor(() => srv.mpm.stats().threads === 2, { what: 'the dead children replaced' })
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => srv.request(i % 2 === 0 ? '/pid' : '/inline')))
      for (const res of results) assert.equal(res.status, 200, res.text)
      for (const res of results.filter((r) => r.json().pid !== undefined)) assert.notEqual(res.json().pid, process.pid)

      const stuck = await srv.request('/spin')
      assert.equal(stuck.status, 503)
      assert.equal(stuck.json().code, 'FST_MPM_TASK_TIMEOUT')
      assert.equal((await srv.request('/pid')).status, 200)
      const stats = srv.mpm.stats()
      assert.equal(stats.crashed, 2)
      assert.equal(stats.threadExits, 2)
      assert.equal(stats.timedOut, 1)
      assert.equal(stats.busy, 0)
    })
  })
}
