// A TypeScript handler module. Run the app under tsx (`npx tsx server.ts`): fastify-mpm loads
// .ts handlers in its threads through tsx's tsImport, which plain worker threads lack on Node 20.
import type { OffloadReply, OffloadRequest } from 'fastify-mpm'

interface FibRoute { Params: { n: string }, Querystring: { memo?: string } }

function slowFib (n: number): number {
  return n < 2 ? n : slowFib(n - 1) + slowFib(n - 2)
}

export default function fib (req: OffloadRequest<FibRoute>, reply: OffloadReply): { n: number, value: number } {
  const n = Number(req.params.n)
  reply.header('x-handler', 'typescript')
  return { n, value: slowFib(n) }
}
