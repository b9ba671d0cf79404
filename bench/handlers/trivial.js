// The dispatch-overhead payload: no work at all, so what is measured is the cost of getting a
// request to a thread and its answer back. Same module for fastify-mpm, tinypool and piscina.
export default function trivial () {
  return { hello: 'world' }
}
