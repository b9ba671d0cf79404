// Runs in a worker thread: a deliberately slow, CPU-bound Fibonacci. The same (req, reply) as
// under Fastify: this file would run unchanged behind Fastify's offload().
function slowFib (n) {
  return n < 2 ? n : slowFib(n - 1) + slowFib(n - 2)
}

export default function fib (req, reply) {
  const n = Number(req.params.n)
  if (!Number.isInteger(n) || n < 0) {
    // Goes to the app's error middleware as next(err), with err.status 400.
    throw Object.assign(new Error('n must be a whole number'), { statusCode: 400 })
  }
  if (n > 40) {
    reply.code(422)
    return { error: 'n too large (max 40)' }
  }
  const started = Date.now()
  const value = slowFib(n)
  req.log.info({ n, ms: Date.now() - started }, 'fib computed in a worker thread')
  return { n, value, ms: Date.now() - started }
}
