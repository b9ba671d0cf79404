// CPU pinning for the scaling runs: the server on some cores, the load generators on the others,
// so that neither steals the other's CPU. Uses taskset (util-linux); Linux only.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

/** "0-3,8,10-11" → [0, 1, 2, 3, 8, 10, 11]; throws on anything else. */
export function parseCpuList (text) {
  const cpus = []
  for (const part of String(text).split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part)
    if (m === null) throw new Error(`not a CPU list (like "0-11" or "0,2,4"): ${JSON.stringify(text)}`)
    const lo = Number(m[1])
    const hi = m[2] === undefined ? lo : Number(m[2])
    if (hi < lo) throw new Error(`not a CPU list: ${JSON.stringify(text)} (${part} runs backwards)`)
    for (let c = lo; c <= hi; c++) cpus.push(c)
  }
  if (cpus.length === 0) throw new Error(`empty CPU list: ${JSON.stringify(text)}`)
  return [...new Set(cpus)].sort((a, b) => a - b)
}

/** [0, 1, 2, 3, 8] → "0-3,8" */
export function formatCpuList (cpus) {
  const parts = []
  for (let i = 0; i < cpus.length; i++) {
    let j = i
    while (j + 1 < cpus.length && cpus[j + 1] === cpus[j] + 1) j++
    parts.push(j === i ? String(cpus[i]) : `${cpus[i]}-${cpus[j]}`)
    i = j
  }
  return parts.join(',')
}

/** The CPUs this process may run on (a container's cpuset may not start at 0). */
export function allowedCpus () {
  try {
    const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('Cpus_allowed_list:'))
    if (line !== undefined) return parseCpuList(line.split(':')[1])
  } catch {}
  return undefined
}

/**
 * Pins every thread of `pid` (taskset -a) to `cpus`. Threads and processes it creates later
 * inherit the mask, so a cluster primary pinned before it forks pins its whole tree.
 */
export function pin (pid, cpus) {
  const list = Array.isArray(cpus) ? formatCpuList(cpus) : cpus
  try {
    execFileSync('taskset', ['-a', '-p', '-c', list, String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] })
  } catch (err) {
    const why = err.code === 'ENOENT' ? 'taskset not found (util-linux)' : String(err.stderr ?? err.message).trim()
    throw new Error(`could not pin pid ${pid} to CPUs ${list}: ${why}`)
  }
}
