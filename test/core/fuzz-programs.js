// fast-check arbitraries for the fuzzed differential: programs in the little language that
// test/fixtures/handlers/programs.js interprets. Only data is generated (JSON-safe: no NaN, no
// `__proto__` object keys, which Fastify's body parser refuses); every value is built by the
// handler itself, on each side.
import fc from 'fast-check'

const KEYS = ['a', 'n', 's', 'list', 'x', '__proto__', 'constructor', 'message', 'statusCode', 'toJSON', 'then', '']
const HEADER_NAMES = ['x-a', 'x-b', 'X-Mixed', 'set-cookie', 'content-type', 'x-hook', 'cache-control']
const STATUSES = [200, 201, 202, 204, 301, 400, 404, 418, 429, 500, 503, 99, 600, 0, 1000, 200.5]

const number = fc.double().map((x) => ['num', Object.is(x, -0) ? '-0' : Number.isNaN(x) ? 'NaN' : x === Infinity ? 'Inf' : x === -Infinity ? '-Inf' : x])
const string = fc.string({ unit: 'binary', maxLength: 8 }).map((s) => ['str', s])
const bytes = fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 6 })
const headerText = fc.stringMatching(/^[a-z0-9=;/]{0,8}$/)

const leaf = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(['undef'], ['null'], ['bool', true], ['bool', false]) },
  { weight: 3, arbitrary: number },
  { weight: 3, arbitrary: string },
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map((x) => ['big', String(x)]),
  fc.constant(['sym', 'gen']),
  fc.oneof(fc.integer({ min: -8.64e15, max: 8.64e15 }), fc.constant(null)).map((ms) => ['date', ms]),
  fc.tuple(fc.constantFrom('pooled', 'owned'), bytes).map(([kind, b]) => ['buf', kind, b]),
  fc.tuple(fc.constantFrom('Uint8Array', 'Int16Array', 'Float64Array'), bytes).map(([ctor, b]) => ['typed', ctor, b]),
  bytes.map((b) => ['ab', b]),
  fc.tuple(fc.constantFrom('string', 'number', 'boolean', 'symbol', 'bigint'), fc.constantFrom('1', '0', '')).map(([kind, x]) =>
    ['boxed', kind, kind === 'number' ? Number(x) : kind === 'boolean' ? x === '1' : kind === 'bigint' ? (x === '' ? '0' : x) : x]),
  fc.constantFrom(['count'], ['cycle'], ['weakmap'], ['caught'], ['valueOf', 202], ['toStr', 'text'],
    ['tojson', 'throw'], ['tojson', 'date'], ['tojson', 'count']),
  fc.constantFrom(['req', 'params'], ['req', 'query'], ['req', 'paramsProto'], ['req', 'queryProto'], ['req', 'method'],
    ['req', 'url'], ['req', 'header', 'x-a'], ['rget', 'getHeader', 'x-hook'], ['rget', 'getHeader', 'x-a'],
    ['rget', 'getHeaders'], ['rget', 'hasHeader', 'content-type'], ['rget', 'statusCode']),
  { weight: 1, arbitrary: fc.constantFrom(['deep', 12], ['deep', 1500], ['deep', 2500]) }
)

const { value, headerValue } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, leaf, tie('node')),
  entries: fc.array(fc.tuple(fc.constantFrom(...KEYS), tie('value'), fc.constantFrom('v', 'v', 'v', 'g', 't', 'h')), { maxLength: 4 }),
  node: fc.oneof(
    { weight: 3, arbitrary: tie('entries').map((e) => ['obj', e]) },
    tie('entries').map((e) => ['nullproto', e]),
    tie('entries').map((e) => ['cls', e]),
    tie('entries').map((e) => ['fn', e]),
    { weight: 2, arbitrary: fc.array(tie('value'), { maxLength: 4 }).map((items) => ['arr', items]) },
    fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }).map((pairs) => ['map', pairs]),
    fc.array(tie('value'), { maxLength: 3 }).map((items) => ['set', items]),
    tie('value').map((v) => ['proxy', v]),
    tie('value').map((v) => ['tojson', 'value', v]),
    tie('error')
  ),
  error: fc.record({
    kind: fc.constantFrom('Error', 'TypeError', 'RangeError', 'Custom'),
    message: fc.string({ maxLength: 6 }),
    ownMessage: fc.boolean(),
    statusCode: fc.constantFrom(...STATUSES.map((n) => ['num', n]), ['str', '404'], ['null'], ['valueOf', 409]),
    code: fc.constantFrom(['str', 'E_CODE'], ['num', 7], ['sym', 'c'], ['null']),
    headers: fc.oneof(fc.constantFrom(['str', 'abc'], ['null']), fc.array(fc.tuple(fc.constantFrom('x-err', 'retry-after'), tie('headerValue'), fc.constant('v')), { maxLength: 2 }).map((e) => ['obj', e])),
    cause: tie('value'),
    fields: tie('entries')
  }, { requiredKeys: ['kind', 'message'] }).map((spec) => ['err', spec]),
  headerValue: fc.oneof(
    { weight: 6, arbitrary: headerText.map((s) => ['str', s]) },
    fc.constantFrom(['num', 7], ['bool', true], ['valueOf', 5], ['toStr', 'shown'], ['cls', []], ['proxy', ['obj', []]],
      ['weakmap'], ['nullproto', []], ['obj', []], ['undef'], ['null']),
    fc.array(headerText.map((s) => ['str', s]), { maxLength: 2 }).map((items) => ['arr', items])
  )
}))

const statusValue = fc.oneof(
  fc.constantFrom(...STATUSES).map((n) => ['num', n]),
  fc.constantFrom(['str', '404'], ['str', 'abc'], ['undef'], ['null'], ['valueOf', 202], ['valueOf', 99], ['toStr', '201'], ['obj', []])
)
const typeValue = fc.oneof(
  fc.constantFrom('text/plain', 'application/json', 'application/octet-stream', 'text/html; charset=utf-8', 'application/x-custom').map((s) => ['str', s]),
  fc.constantFrom(['obj', []], ['proxy', ['obj', []]], ['fn', []], ['toStr', 'text/plain'], ['undef'], ['num', 1])
)

const call = fc.oneof(
  statusValue.map((v) => ['code', v]),
  statusValue.map((v) => ['status', v]),
  statusValue.map((v) => ['sc', v]),
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...HEADER_NAMES), headerValue).map(([name, v]) => ['header', name, v]) },
  fc.array(fc.tuple(fc.constantFrom(...HEADER_NAMES), headerValue, fc.constant('v')), { maxLength: 3 }).map((e) => ['headers', ['obj', e]]),
  typeValue.map((v) => ['type', v]),
  fc.constantFrom(...HEADER_NAMES).map((name) => ['remove', name.toLowerCase()])
)
const step = fc.oneof({ weight: 3, arbitrary: call }, call.map((c) => ['try', c]))

const streams = fc.constantFrom('readable', 'web', 'gen').map((kind) => ['stream', kind])

/**
 * A returned value with a `then` method is a thenable: the async handler adopts it, calls it, and
 * (ours never calls back) never settles, inline as in the thread; Fastify waits forever. Such
 * programs are not generated: there is no answer to compare.
 */
function returnsThenable (end) {
  if (end[0] !== 'return') return false
  let desc = end[1]
  while (desc[0] === 'proxy') desc = desc[1]
  const entries = ['obj', 'nullproto', 'cls', 'fn'].includes(desc[0]) ? desc[1] : desc[0] === 'err' ? (desc[1].fields ?? []) : []
  return entries.some(([key, v, mode]) => key === 'then' && mode !== 't' && v[0] === 'fn')
}

export const programArb = fc.record({
  mount: fc.constantFrom('p', 's', 'e'),
  steps: fc.array(step, { maxLength: 4 }),
  end: fc.tuple(fc.constantFrom('return', 'return', 'throw'), fc.oneof({ weight: 30, arbitrary: value }, streams))
}).filter((program) => !returnsThenable(program.end))
