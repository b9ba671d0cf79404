// Type tests (tsd) for the public API, checked against the built declarations in dist/.
import Fastify, { type RouteHandlerMethod } from 'fastify'
import { expectAssignable, expectError, expectNotAssignable, expectType } from 'tsd'
import mpm, {
  cluster, errors, Mpm, offload,
  type ClusterHandle,
  type MpmOptions, type OffloadHandler, type OffloadLogger, type OffloadReply, type OffloadRequest,
  type PoolStats, type TaskEvent
} from 'fastify-mpm'

// -- OffloadRequest generics ---------------------------------------------------------------------

declare const typed: OffloadRequest<{
  Params: { n: string }
  Querystring: { page: number, tags?: string[] }
  Body: { name: string, age: number }
  Headers: { 'x-token': string }
}>
expectType<string>(typed.params.n)
expectType<number>(typed.query.page)
expectType<string[] | undefined>(typed.query.tags)
expectType<{ name: string, age: number }>(typed.body)
expectType<string>(typed.body.name)
expectType<string>(typed.headers['x-token'])
// other headers are still reachable, loosely typed
expectType<string | string[] | undefined>(typed.headers['user-agent'])
expectError(typed.params.m)
expectError(typed.body.missing)

// Only some generics given: the rest keep their defaults.
declare const paramsOnly: OffloadRequest<{ Params: { id: string } }>
expectType<string>(paramsOnly.params.id)
expectType<unknown>(paramsOnly.body)
expectAssignable<Record<string, string | string[]>>(paramsOnly.query)

// Default: loose, plain data.
declare const loose: OffloadRequest
expectType<string>(loose.id)
expectType<string>(loose.method)
expectType<string>(loose.url)
expectType<string>(loose.ip)
expectType<string>(loose.hostname)
expectType<unknown>(loose.body)
expectType<string>(loose.params.anything)
expectType<string | string[]>(loose.query.anything)
expectType<string | string[] | undefined>(loose.headers.anything)
expectType<OffloadLogger>(loose.log)
loose.log.info('text')
loose.log.warn({ a: 1 }, 'with an object')
expectType<OffloadLogger>(loose.log.child({ part: 'x' }))
expectError(loose.log.info())

// -- OffloadReply ---------------------------------------------------------------------------------

declare const reply: OffloadReply
expectType<OffloadReply>(reply.code(201).header('x-a', 'b').headers({ 'x-b': 1 }).type('text/plain').status(202))
expectType<number>(reply.statusCode)
expectType<OffloadReply>(reply.removeHeader('x-a'))
expectType<boolean>(reply.hasHeader('x-a'))
expectType<Record<string, string | number | string[]>>(reply.getHeaders())
reply.statusCode = 204
expectError(reply.code('201'))
expectError(reply.send('no send in a thread'))

// -- handler modules ------------------------------------------------------------------------------

const fib: OffloadHandler<{ Params: { n: string } }, { n: number }> = (req, rep) => {
  expectType<string>(req.params.n)
  expectType<OffloadReply>(rep)
  return { n: Number(req.params.n) }
}
expectAssignable<OffloadHandler>(async () => 'async handlers are fine')
expectNotAssignable<OffloadHandler<{ Params: { n: string } }, { n: number }>>(() => ({ n: 'not a number' }))
void fib

// -- offload() and the plugin ---------------------------------------------------------------------

const handler = offload(new URL('./handlers/fib.js', import.meta.url))
expectAssignable<RouteHandlerMethod>(handler)
offload('/absolute/path/handler.js', { export: 'thumbnail', timeout: 5000 })
expectError(offload(new URL('file:///h.js'), { export: 42 }))
expectError(offload(new URL('file:///h.js'), { timeout: '5s' }))
expectError(offload(new URL('file:///h.js'), { exprt: 'typo' }))
expectError(offload(42))

const app = Fastify()
app.register(mpm, {
  threads: { min: 1, max: 4 },
  maxQueue: 512,
  idleTimeout: 30_000,
  taskTimeout: 30_000,
  queueTimeout: 5_000,
  maxTasksPerThread: 0,
  resourceLimits: { maxOldGenerationSizeMb: 512 },
  retryAfter: 5,
  closeTimeout: 10_000
})
app.register(mpm, { threads: 0 })
app.register(mpm)
app.get('/fib/:n', { schema: { params: { type: 'object' } } }, offload(new URL('file:///fib.js')))
app.post('/thumb', offload(new URL('file:///image.js'), { export: 'thumbnail', timeout: 5_000 }))
app.route({ method: 'GET', url: '/r', handler: offload(new URL('file:///r.js')) })

expectError(app.register(mpm, { threads: 'four' }))
expectError(app.register(mpm, { threads: { min: 1 } }))
expectError(app.register(mpm, { maxQueue: '512' }))
expectError(app.register(mpm, { taskTimeout: true }))
expectError(app.register(mpm, { queueTimeout: '5s' }))
expectError(app.register(mpm, { resourceLimits: { maxOldGenerationSizeMb: '1g' } }))
expectError(app.register(mpm, { retryAfter: null }))
expectAssignable<MpmOptions>({ threads: 4 })
expectNotAssignable<MpmOptions>({ threads: [1, 4] })

// -- app.mpm --------------------------------------------------------------------------------------

expectType<Mpm>(app.mpm)
const stats = app.mpm.stats()
expectType<PoolStats>(stats)
expectType<number>(stats.threads)
expectType<number>(stats.busy)
expectType<number>(stats.idle)
expectType<number>(stats.queued)
expectType<number>(stats.completed)
expectType<number>(stats.failed)
expectType<number>(stats.rejected)
expectType<number>(stats.timedOut)
expectError(stats.nope)

expectType<Promise<unknown>>(app.mpm.run(new URL('file:///work.js'), { n: 1 }))
expectType<Promise<number>>(app.mpm.run<number>('/abs/work.js', 1, { export: 'double', timeout: 100, signal: new AbortController().signal }))
expectError(app.mpm.run(new URL('file:///work.js'), 1, { timeout: '1s' }))
app.mpm.onTask((event) => {
  expectType<TaskEvent>(event)
  expectType<string>(event.route)
  expectType<number>(event.durationMs)
})

// -- error codes ----------------------------------------------------------------------------------

expectType<'FST_MPM_TASK_TIMEOUT'>(new errors.FST_MPM_TASK_TIMEOUT(100).code)
expectType<'FST_MPM_QUEUE_FULL'>(new errors.FST_MPM_QUEUE_FULL(5).code)

// -- operator view and cluster ----------------------------------------------------------------------

app.register(mpm, { status: true, metrics: true, slowTaskThreshold: 500 })
app.register(mpm, {
  status: { path: '/_status', allow: ['10.0.0.0/8', '::1'], onRequest: async (request) => { expectType<string>(request.ip) } },
  metrics: { path: '/_metrics' }
})
expectError(app.register(mpm, { status: { allow: '127.0.0.1' } }))
app.register(mpm, { metrics: { processMetrics: true } })
expectError(app.register(mpm, { metrics: { processMetrics: 'yes' } }))
expectError(app.register(mpm, { slowTaskThreshold: '1s' }))

expectType<Promise<ClusterHandle>>(cluster({ app: new URL('file:///app.js'), processes: 'auto', threads: '1:4', listen: { port: 3000 } }))
expectError(cluster({ app: new URL('file:///app.js'), processes: 'many' }))

// -- operations: readiness, memory recycling, shutdown delay ------------------------------------------

app.register(mpm, { readiness: true, maxThreadMemory: 256 })
app.register(mpm, { readiness: { path: '/healthz/ready', maxQueueFraction: 0.8 } })
expectError(app.register(mpm, { readiness: { maxQueueFraction: '50%' } }))
expectError(app.register(mpm, { readiness: { interval: 1 } }))
expectError(app.register(mpm, { maxThreadMemory: '256M' }))
expectType<Promise<ClusterHandle>>(cluster({ app: new URL('file:///app.js'), shutdownDelay: 5000, maxProcessMemory: 400, maxProcessMemoryJitter: 40 }))
expectError(cluster({ app: new URL('file:///app.js'), maxProcessMemory: '400M' }))
declare const handle: ClusterHandle
handle.on('recycle', (_child, requests, reason) => {
  expectType<number>(requests)
  expectType<'max-requests' | 'max-memory'>(reason)
})
