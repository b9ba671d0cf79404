// Runs in a worker thread: a deliberately slow, CPU-bound Fibonacci.
function slowFib (n) {
  return n < 2 ? n : slowFib(n - 1) + slowFib(n - 2)
}

/** @param {import('fastify-mpm').OffloadRequest<{ Params: { n: string } }>} req */
export default function fib (req, reply) {
  const n = Number(req.params.n)
  if (n > 40) {
    reply.code(422)
    return { error: 'n too large (max 40)' }
  }
  const started = Date.now()
  const value = slowFib(n)
  req.log.info({ n, ms: Date.now() - started }, 'fib computed in a worker thread')
  return { n, value, ms: Date.now() - started }
}
