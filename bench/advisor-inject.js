// The advisor's whole cost to Fastify, in one process (issue 19): a trivial inline route through
// inject() (routing, hooks, handler, serialization; no sockets), with the advisor's tracing
// subscriber attached and detached in alternating blocks of --block requests, --blocks times, so
// a busy host's noise falls on both alike. (AA=1: both ways detached, to see the noise floor.) With it detached Fastify takes its untraced path, as
// with `advisor: false`. Prints CPU µs per request each way and the difference.
// Run after `npm run build`: node bench/advisor-inject.js [--blocks 200] [--block 500]
import { parseArgs } from 'node:util'
import Fastify from 'fastify'
import mpm from 'fastify-mpm'
import { setTracingForBench } from '../dist/fastify/loop-time.js'

const { values } = parseArgs({ options: { blocks: { type: 'string', default: '200' }, block: { type: 'string', default: '500' } } })
const blocks = Number(values.blocks)
const block = Number(values.block)

const app = Fastify({ logger: false })
await app.register(mpm, { threads: 1 })
app.get('/trivial', async () => ({ hello: 'world' }))
await app.ready()
const run = async (n) => { for (let i = 0; i < n; i++) await app.inject('/trivial') }
await run(block * 4)
const cpu = { on: 0, off: 0 }
// In a shuffled order, so neither mode lines up with the garbage collector's rhythm.
const order = Array.from({ length: blocks }, (_, b) => b % 2 === 0 ? 'on' : 'off')
for (let i = order.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [order[i], order[j]] = [order[j], order[i]] }
for (const mode of order) {
  setTracingForBench(mode === 'on' && process.env.AA !== '1')
  const start = process.cpuUsage()
  await run(block)
  const used = process.cpuUsage(start)
  cpu[mode] += used.user + used.system
}
setTracingForBench(true)
const per = (mode) => cpu[mode] / (blocks / 2 * block)
console.log(`Fastify inject(), trivial inline route, CPU µs/request over ${blocks / 2} × ${block} requests each: advisor off ${per('off').toFixed(2)}, on ${per('on').toFixed(2)}: +${(per('on') - per('off')).toFixed(2)} µs (${((per('on') / per('off') - 1) * 100).toFixed(1)} %)`)
await app.close()
