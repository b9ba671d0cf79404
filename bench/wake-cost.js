#!/usr/bin/env node
// What one hand-off between two threads costs on this machine, without HTTP, a pool or
// fastify-mpm: the floor under any offloaded request (issue 21, point 1; bench/FINDINGS.md).
// Two threads play ping-pong, each sleeping until the other wakes it, in the two ways a Node
// thread can sleep: in its event loop (a MessagePort message, as fastify-mpm's and tinypool's
// threads without atomics) and blocked in Atomics.wait (a futex, as tinypool's and piscina's
// default threads). Prints the process's CPU time (both threads) and the wall time per round
// trip, i.e. per two wake-ups; compare with an inline request's whole CPU time in `npm run bench`.
//   node bench/wake-cost.js [--trips 20000] [--runs 3]
import { MessageChannel, Worker } from 'node:worker_threads'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { trips: { type: 'string', default: '20000' }, runs: { type: 'string', default: '3' } } })
const TRIPS = Number(values.trips)
const RUNS = Number(values.runs)

/** Ping-pong over a MessagePort: each side sleeps in its event loop between messages. */
async function eventLoop () {
  const worker = new Worker(`
    const { parentPort } = require('node:worker_threads')
    parentPort.once('message', (port) => port.on('message', (n) => port.postMessage(n)))
  `, { eval: true })
  const { port1, port2 } = new MessageChannel()
  worker.postMessage(port2, [port2])
  const trip = () => new Promise((resolve) => { port1.once('message', resolve); port1.postMessage(1) })
  for (let i = 0; i < 1000; i++) await trip()
  const cpu = process.cpuUsage()
  const start = performance.now()
  for (let i = 0; i < TRIPS; i++) await trip()
  const result = measure(cpu, start)
  await worker.terminate()
  return result
}

/** Ping-pong through a SharedArrayBuffer: each side blocks in Atomics.wait until notified. */
async function futex () {
  const cells = new Int32Array(new SharedArrayBuffer(8))
  const total = TRIPS + 1000
  const worker = new Worker(`
    const { workerData } = require('node:worker_threads')
    const cells = new Int32Array(workerData)
    for (let i = 1; i <= ${total}; i++) {
      while (Atomics.load(cells, 0) !== i) Atomics.wait(cells, 0, i - 1)
      Atomics.store(cells, 1, i)
      Atomics.notify(cells, 1)
    }
  `, { eval: true, workerData: cells.buffer })
  await new Promise((resolve) => worker.once('online', resolve))
  const trip = (i) => {
    Atomics.store(cells, 0, i)
    Atomics.notify(cells, 0)
    while (Atomics.load(cells, 1) !== i) Atomics.wait(cells, 1, i - 1)
  }
  for (let i = 1; i <= 1000; i++) trip(i)
  const cpu = process.cpuUsage()
  const start = performance.now()
  for (let i = 1001; i <= total; i++) trip(i)
  const result = measure(cpu, start)
  await worker.terminate()
  return result
}

function measure (cpu, start) {
  const used = process.cpuUsage(cpu)
  return { cpuUs: (used.user + used.system) / TRIPS, wallUs: (performance.now() - start) * 1000 / TRIPS }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
console.log(`wake-cost: ${TRIPS} round trips × ${RUNS} runs, Node ${process.version}; medians per round trip (two wake-ups)`)
console.log('| how the threads sleep | CPU µs (both threads) | wall µs |')
console.log('|---|--:|--:|')
for (const [label, fn] of [['event loop (MessagePort)', eventLoop], ['Atomics.wait (futex)', futex]]) {
  const runs = []
  for (let r = 0; r < RUNS; r++) runs.push(await fn())
  console.log(`| ${label} | ${median(runs.map((x) => x.cpuUs)).toFixed(1)} | ${median(runs.map((x) => x.wallUs)).toFixed(1)} |`)
}
