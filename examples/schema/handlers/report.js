// Returns more than the route promises; the route's response schema (applied on the main thread
// by Fastify's serializer) decides what leaves the server: `internal` never does.
export default function report (req) {
  const { from, to } = req.body
  let total = 0
  for (let i = from; i <= to; i++) total += Math.sqrt(i)
  return { from, to, total, computedBy: 'worker thread', internal: { secret: 'not serialized' } }
}
