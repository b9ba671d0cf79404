// TypeScript handler modules: where the running Node strips types (22.18+, 23.6+, 24), a .ts
// handler runs with no tsx anywhere near it; where it does not, the error says so and names the
// file. A handler type stripping refuses (an enum) still runs where tsx is installed. The
// handlers here are written to a temporary folder outside the repository, where no tsx resolves.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { offload } from 'fastify-mpm'
import { fixture, startApp } from '../helpers/app.js'
import { tempDir } from '../helpers/util.js'

const stripsTypes = ['strip', 'transform'].includes(process.features.typescript)

const TYPED = `import { threadId } from 'node:worker_threads'
interface Answer { doubled: number, threadId: number }
export default function double (req: { params: { n: string } }): Answer {
  const n: number = Number(req.params.n)
  return { doubled: n * 2, threadId }
}
`
const ENUM = `enum Lang { Ts = 'ts' }
export default function lang (): { lang: Lang } { return { lang: Lang.Ts } }
`

function handlerOutsideRepo (t, name, source) {
  const dir = tempDir()
  t.after(dir.remove)
  writeFileSync(dir.file(name), source)
  return pathToFileURL(dir.file(name))
}

test(`a .ts handler with no tsx in reach: ${stripsTypes ? 'runs on Node\'s type stripping' : 'fails at ready(), naming the file and what to do'}`, { timeout: 20_000 }, async (t) => {
  const handler = handlerOutsideRepo(t, 'double.ts', TYPED)
  const start = startApp({ threads: 1 }, (app) => { app.get('/double/:n', offload(handler)) })
  if (!stripsTypes) {
    await assert.rejects(start, (err) => {
      assert.equal(err.code, 'FST_MPM_HANDLER_MODULE')
      assert.ok(err.message.includes(handler.href), err.message)
      assert.match(err.message, /does not strip types: install "tsx"/)
      return true
    })
    return
  }
  const srv = await start
  t.after(() => srv.close())
  const res = await srv.request('/double/21')
  assert.equal(res.status, 200, res.text)
  assert.equal(res.json().doubled, 42)
  assert.notEqual(res.json().threadId, 0)
})

test('a .ts handler type stripping refuses (an enum) runs through tsx where tsx is installed', { timeout: 20_000 }, async (t) => {
  const srv = await startApp({ threads: 1 }, (app) => { app.get('/lang', offload(fixture('enum.ts'))) })
  t.after(() => srv.close())
  const res = await srv.request('/lang')
  assert.equal(res.status, 200, res.text)
  assert.deepEqual(res.json(), { lang: 'ts' })
})

test('a .ts handler type stripping refuses, with no tsx in reach: the error names the file and says to install tsx', { timeout: 20_000 }, async (t) => {
  const handler = handlerOutsideRepo(t, 'lang.ts', ENUM)
  await assert.rejects(startApp({ threads: 1 }, (app) => { app.get('/lang', offload(handler)) }), (err) => {
    assert.equal(err.code, 'FST_MPM_HANDLER_MODULE')
    assert.ok(err.message.includes(handler.href), err.message)
    assert.match(err.message, /install "tsx"/)
    return true
  })
})
