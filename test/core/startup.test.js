// Bad configuration fails at startup — register()/ready() — naming the route, file or option.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import mpm, { offload, errors } from 'fastify-mpm'
import { fixture, startApp } from '../helpers/app.js'

/** Builds an app, registers the plugin and routes, and returns what ready() rejects with. */
async function readyError (mpmOptions, routes = () => {}) {
  const app = Fastify()
  try {
    app.register(mpm, mpmOptions)
    app.register(async (scope) => { routes(scope) })
    await app.ready()
  } catch (err) {
    return err
  } finally {
    await app.close().catch(() => {})
  }
  assert.fail('ready() should have rejected')
}

test('a missing handler module fails ready() naming the route and the file', { timeout: 20_000 }, async () => {
  const missing = fixture('does-not-exist.js')
  const err = await readyError({ threads: 1 }, (app) => {
    app.get('/ok', offload(fixture('responses.js')))
    app.get('/gone', offload(missing))
  })
  assert.equal(err.code, 'FST_MPM_HANDLER_MODULE')
  assert.ok(err instanceof errors.FST_MPM_HANDLER_MODULE)
  assert.match(err.message, /^fastify-mpm: route GET \/gone, HEAD \/gone: cannot load handler module /)
  assert.ok(err.message.includes(missing.href), err.message)
})

test('a module that fails while loading fails ready() with the cause', { timeout: 20_000 }, async () => {
  const broken = fixture('broken-import.js')
  const err = await readyError({ threads: 1 }, (app) => {
    app.post('/broken', offload(broken))
  })
  assert.equal(err.code, 'FST_MPM_HANDLER_MODULE')
  assert.match(err.message, /POST \/broken/)
  assert.ok(err.message.includes(broken.href))
  assert.match(err.message, /this-file-does-not-exist/)
})

test('a missing export fails ready() naming route, file, export and what it has', { timeout: 20_000 }, async () => {
  const noDefault = fixture('no-default.js')
  const err = await readyError({ threads: 1 }, (app) => {
    app.get('/a', offload(noDefault))
    app.get('/b', offload(noDefault, { export: 'one' }))
  })
  assert.equal(err.code, 'FST_MPM_HANDLER_EXPORT')
  assert.match(err.message, /GET \/a/)
  assert.doesNotMatch(err.message, /GET \/b/, 'the route whose export exists is not blamed')
  assert.ok(err.message.includes(noDefault.href))
  assert.match(err.message, /"default"/)
  assert.match(err.message, /one, two/)
})

test('a missing export fails ready() in inline mode too', { timeout: 20_000 }, async () => {
  const err = await readyError({ threads: 0 }, (app) => {
    app.get('/x', offload(fixture('responses.js'), { export: 'nope' }))
  })
  assert.equal(err.code, 'FST_MPM_HANDLER_EXPORT')
  assert.match(err.message, /GET \/x/)
  assert.match(err.message, /"nope"/)
})

test('options out of range or of the wrong type fail register naming the option', { timeout: 20_000 }, async (t) => {
  const cases = [
    [{ threads: -1 }, /"threads"/],
    [{ threads: 1.5 }, /"threads"/],
    [{ threads: 'many' }, /"threads"/],
    [{ threads: { min: 3, max: 2 } }, /"threads\.min"/],
    [{ threads: { min: 1 } }, /"threads\.max"/],
    [{ maxQueue: -5 }, /"maxQueue"/],
    [{ maxQueue: '10' }, /"maxQueue"/],
    [{ idleTimeout: -1 }, /"idleTimeout"/],
    [{ taskTimeout: 1.5 }, /"taskTimeout"/],
    [{ maxTasksPerThread: -1 }, /"maxTasksPerThread"/],
    [{ retryAfter: 'soon' }, /"retryAfter"/],
    [{ closeTimeout: -10 }, /"closeTimeout"/],
    [{ resourceLimits: 5 }, /"resourceLimits"/],
    [{ resourceLimits: { maxOldGenerationSizeMb: 0 } }, /"resourceLimits\.maxOldGenerationSizeMb"/]
  ]
  for (const [opts, name] of cases) {
    const err = await readyError(opts)
    assert.equal(err.code, 'FST_MPM_INVALID_OPTION', JSON.stringify(opts))
    assert.match(err.message, name, JSON.stringify(opts))
  }
})

test('an unknown option fails register naming it', { timeout: 20_000 }, async () => {
  const err = await readyError({ threads: 1, maxQeue: 10 })
  assert.equal(err.code, 'FST_MPM_INVALID_OPTION')
  assert.match(err.message, /"maxQeue"/)
  assert.match(err.message, /maxQueue/, 'lists the known options')
})

test('FASTIFY_MPM_THREADS supplies the default thread bounds; a bad value is named', { timeout: 20_000 }, async () => {
  const saved = process.env.FASTIFY_MPM_THREADS
  try {
    process.env.FASTIFY_MPM_THREADS = '1:3'
    const app = Fastify()
    await app.register(mpm, { threads: undefined })
    try {
      const stats = app.mpm.stats()
      assert.equal(stats.minThreads, 1)
      assert.equal(stats.maxThreads, 3)
    } finally {
      await app.close()
    }
    process.env.FASTIFY_MPM_THREADS = 'lots'
    const err = await readyError({})
    assert.equal(err.code, 'FST_MPM_INVALID_OPTION')
    assert.match(err.message, /FASTIFY_MPM_THREADS/)
  } finally {
    if (saved === undefined) delete process.env.FASTIFY_MPM_THREADS
    else process.env.FASTIFY_MPM_THREADS = saved
  }
})

test('offload() rejects a relative path string, pointing at new URL(…, import.meta.url)', () => {
  assert.throws(() => offload('./handlers/fib.js'), (err) => {
    assert.equal(err.code, 'FST_MPM_INVALID_HANDLER')
    assert.match(err.message, /\.\/handlers\/fib\.js/)
    assert.match(err.message, /import\.meta\.url/)
    return true
  })
  assert.throws(() => offload(''), { code: 'FST_MPM_INVALID_HANDLER' })
  assert.throws(() => offload(42), { code: 'FST_MPM_INVALID_HANDLER' })
  assert.throws(() => offload(fixture('responses.js'), { timeout: -1 }), { code: 'FST_MPM_INVALID_HANDLER', message: /timeout/ })
  assert.throws(() => offload(fixture('responses.js'), { export: '' }), { code: 'FST_MPM_INVALID_HANDLER', message: /export/ })
})

test('offload() accepts an absolute path and a file: URL string', { timeout: 20_000 }, async () => {
  const url = fixture('responses.js')
  const app = Fastify()
  await app.register(mpm, { threads: 1 })
  app.get('/path', offload(new URL(url).pathname))
  app.get('/href', offload(url.href))
  try {
    await app.ready()
    for (const path of ['/path', '/href']) {
      const res = await app.inject(path)
      assert.equal(res.statusCode, 200, path)
      assert.equal(res.json().hello, 'world')
    }
  } finally {
    await app.close()
  }
})

test('an offloaded route on an instance without the plugin answers FST_MPM_NOT_REGISTERED', { timeout: 20_000 }, async () => {
  const app = Fastify()
  app.get('/orphan', offload(fixture('responses.js')))
  try {
    const res = await app.inject('/orphan')
    assert.equal(res.statusCode, 500)
    assert.equal(res.json().code, 'FST_MPM_NOT_REGISTERED')
    assert.match(res.json().message, /\/orphan/)
  } finally {
    await app.close()
  }
})

test('ready() logs one info line listing the offloaded routes: route, module, export', { timeout: 20_000 }, async (t) => {
  const srv = await startApp({ threads: 1 }, (app) => {
    app.get('/ok', offload(fixture('responses.js')))
    app.post('/named', offload(fixture('responses.js'), { export: 'echo' }))
    app.get('/light', async () => 'inline')
  }, { listen: false })
  t.after(() => srv.close())
  const lines = srv.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('fastify-mpm: offloaded routes'))
  assert.equal(lines.length, 1)
  const [line] = lines
  assert.equal(line.level, 30)
  assert.equal(line.msg, 'fastify-mpm: offloaded routes: GET /ok → responses.js#default, HEAD /ok → responses.js#default, POST /named → responses.js#echo')
  assert.deepEqual(line.routes, [
    { route: 'GET /ok', module: fixture('responses.js').href, export: 'default' },
    { route: 'HEAD /ok', module: fixture('responses.js').href, export: 'default' },
    { route: 'POST /named', module: fixture('responses.js').href, export: 'echo' }
  ])
})

test('an app without offloaded routes says so at ready()', { timeout: 20_000 }, async (t) => {
  const srv = await startApp({ threads: 1 }, (app) => { app.get('/light', async () => 'inline') }, { listen: false })
  t.after(() => srv.close())
  assert.ok(srv.logs.find((l) => l.msg === 'fastify-mpm: no offloaded routes' && l.level === 30))
})
