#!/usr/bin/env node
// Summarises .cpuprofile files (from `bench/run.js --cpu-prof`): self time per function,
// heaviest first, as a share of the profile's non-idle samples.
//   node bench/lib/profile-top.js bench/results/prof/dispatch-mpm.*.cpuprofile [--top 30]
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'

const args = process.argv.slice(2)
const topIndex = args.indexOf('--top')
const top = topIndex === -1 ? 25 : Number(args.splice(topIndex, 2)[1])

for (const file of args) {
  const profile = JSON.parse(readFileSync(file, 'utf8'))
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map()
  const dt = profile.timeDeltas
  let total = 0
  let idle = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i])
    const us = dt[i] ?? 0
    const { functionName, url, lineNumber } = node.callFrame
    total += us
    if (functionName === '(idle)' || functionName === '(program)') { if (functionName === '(idle)') idle += us }
    const key = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(dist|bench)\//, '$1/')}:${lineNumber + 1}` : ''}`
    self.set(key, (self.get(key) ?? 0) + us)
  }
  const busy = total - idle
  console.log(`\n${basename(file)}: ${(total / 1e3).toFixed(0)} ms sampled, ${(busy / 1e3).toFixed(0)} ms not idle`)
  const rows = [...self.entries()].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)
  for (const [key, us] of rows) console.log(`${(100 * us / busy).toFixed(1).padStart(5)}%  ${(us / 1e3).toFixed(1).padStart(7)} ms  ${key}`)
}
