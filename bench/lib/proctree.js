// A server and everything it forked, read from /proc (Linux): the pids, their CPU time and
// memory. A clustered server is a process tree, so "the server's CPU" or "its RSS" is a sum over
// the tree; the orchestrator only knows the root pid.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

let clockTicks
/** USER_HZ: /proc/<pid>/stat counts CPU time in these (100 on every common Linux). */
function ticksPerSecond () {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clockTicks = 100
    }
  }
  return clockTicks
}

function readStat (pid) {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    const fields = raw.slice(raw.lastIndexOf(')') + 2).split(' ')
    return { state: fields[0], ppid: Number(fields[1]), utime: Number(fields[11]), stime: Number(fields[12]) }
  } catch {
    return undefined // gone meanwhile
  }
}

/** The text after `key:` in a /proc file (VmRSS in status, Pss in smaps_rollup), or undefined. */
function field (file, key) {
  try {
    const line = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(`${key}:`))
    return line?.slice(key.length + 1).trim()
  } catch {
    return undefined
  }
}
const kB = (file, key) => Number.parseInt(field(file, key) ?? 'NaN', 10)

/** `root` and all its descendants, root first. */
export function processTree (root) {
  const children = new Map()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const stat = readStat(name)
    if (stat === undefined) continue
    const list = children.get(stat.ppid) ?? []
    list.push(Number(name))
    children.set(stat.ppid, list)
  }
  const tree = [root]
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []))
  return tree
}

/**
 * Per process of the tree: CPU time (µs, user + system, all its threads), VmRSS and Pss (bytes),
 * the CPUs it may run on.
 * Pss shares each page among the processes mapping it (node's code, forked-but-untouched
 * pages), so summed Pss is what the tree really holds; summed RSS counts shared pages once per
 * process. Pss is NaN where smaps_rollup is missing (Linux < 4.14, some sandboxes).
 */
export function treeUsage (root) {
  const usPerTick = 1e6 / ticksPerSecond()
  const processes = []
  for (const pid of processTree(root)) {
    const stat = readStat(pid)
    // A zombie holds no memory and has no VmRSS line.
    if (stat === undefined || stat.state === 'Z') continue
    processes.push({
      pid,
      ppid: stat.ppid,
      cpuUs: (stat.utime + stat.stime) * usPerTick,
      rss: kB(`/proc/${pid}/status`, 'VmRSS') * 1024,
      pss: kB(`/proc/${pid}/smaps_rollup`, 'Pss') * 1024,
      // The main thread's; the bench pins with taskset -a, so its threads share it.
      cpus: field(`/proc/${pid}/status`, 'Cpus_allowed_list')
    })
  }
  const sum = (key) => processes.reduce((total, p) => total + p[key], 0)
  return { processes, cpuUs: sum('cpuUs'), rss: sum('rss'), pss: sum('pss') }
}

/** One process's VmRSS in bytes, read now; NaN where /proc is missing or the process is gone. */
export function rssOf (pid) {
  return kB(`/proc/${pid}/status`, 'VmRSS') * 1024
}

/**
 * CPU time (µs, user + system) of one thread of a process: `tid` = `pid` is its main thread, so
 * this is the main thread's own, worker threads excluded. NaN where /proc is missing.
 */
export function threadCpuUs (pid, tid = pid) {
  try {
    const raw = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    const fields = raw.slice(raw.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 1e6 / ticksPerSecond()
  } catch {
    return NaN
  }
}
