// `?auto`: Apache mod_status's machine-readable `Key: value` lines, so scripts and monitoring
// plugins written for Apache (collectd, Munin, Datadog's apache check) read it unchanged,
// followed by the keys only a thread pool has (queue, timeouts, recycling). Apache's keys are
// totals over every pool; with named pools, each pool's own follow as `Pool.<name>.<Key>` (names
// come from the options, never from a client), before the Scoreboard line, which stays last.

import type { PoolTotals, ServerStatus } from './summary.js'

export function renderAuto (status: ServerStatus): string {
  const { server, totals } = status
  const lines: Array<[string, string | number]> = [
    ['ServerVersion', `fastify-mpm/${server.version} (Node.js ${server.node})`],
    ['ServerMPM', 'fastify-mpm'],
    ['CurrentTime', server.generatedAt],
    ['RestartTime', new Date(server.startedAt).toISOString()],
    ['ServerUptimeSeconds', Math.floor(server.uptimeSec)],
    ['ServerUptime', humanDuration(server.uptimeSec)],
    ['Total Accesses', totals.accesses],
    ['Total kBytes', Math.floor(totals.bytes / 1024)],
    ['Uptime', Math.floor(server.uptimeSec)],
    ['ReqPerSec', num(totals.reqPerSec)],
    ['BytesPerSec', num(totals.bytesPerSec)],
    ['BytesPerReq', num(totals.bytesPerReq)],
    ['BusyWorkers', totals.busy],
    ['GracefulWorkers', totals.slots.finishing],
    ['IdleWorkers', totals.idle],
    ['StartingWorkers', totals.slots.starting],
    ['OpenSlots', totals.slots.open],
    ['Processes', totals.processes],
    // The event MPM's keys (mod_status.c), which Apache tooling reads as its connection figures.
    ['Stopping', totals.stopping],
    ['ConnsTotal', totals.connections.total],
    ['ConnsAsyncWriting', totals.connections.writing],
    ['ConnsAsyncKeepAlive', totals.connections.keepAlive],
    ['ConnsAsyncClosing', totals.connections.closing],
    ['ProcessesAnswered', totals.answered],
    ['ProcessRestarts', server.processRestarts],
    ['ProcessesRecycledMemory', server.processRecycles['max-memory'] ?? 0],
    ['QueueDepth', totals.queued],
    ['MaxQueue', totals.maxQueue],
    ['TasksCompleted', totals.completed],
    ['TasksFailed', totals.failed],
    ['TasksRejected', totals.rejected],
    ['TasksQueueTimedOut', totals.queueTimedOut],
    ['TasksTimedOut', totals.timedOut],
    ['TasksCrashed', totals.crashed],
    ['ThreadsRecycled', totals.recycled],
    ['ThreadsRecycledMemory', totals.recycledMemory],
    // An app without named pools keeps exactly Apache's keys and ours.
    ...(Object.keys(totals.pools).length > 1 ? Object.entries(totals.pools).flatMap(([name, pool]) => poolLines(name, pool)) : []),
    ['Scoreboard', status.scoreboard]
  ]
  return lines.map(([key, value]) => `${key}: ${value}\n`).join('')
}

function poolLines (name: string, pool: PoolTotals): Array<[string, string | number]> {
  const lines: Array<[string, string | number]> = [
    ['Isolation', pool.isolation],
    ['BusyWorkers', pool.slots.busy + pool.slots.finishing],
    ['IdleWorkers', pool.slots.idle],
    ['StartingWorkers', pool.slots.starting],
    ['OpenSlots', pool.slots.open],
    ['QueueDepth', pool.queued],
    ['MaxQueue', pool.maxQueue],
    ['TasksCompleted', pool.completed],
    ['TasksFailed', pool.failed],
    ['TasksRejected', pool.rejected],
    ['TasksQueueTimedOut', pool.queueTimedOut ?? 0],
    ['TasksTimedOut', pool.timedOut],
    ['TasksCrashed', pool.crashed],
    ['ThreadsRecycled', pool.recycled],
    ['Scoreboard', pool.scoreboard]
  ]
  return lines.map(([key, value]) => [`Pool.${name}.${key}`, value])
}

function num (n: number): string {
  return String(Number(n.toFixed(4)))
}

export function humanDuration (seconds: number): string {
  let s = Math.floor(seconds)
  const parts: string[] = []
  for (const [unit, size] of [['day', 86400], ['hour', 3600], ['minute', 60]] as const) {
    const n = Math.floor(s / size)
    s -= n * size
    if (n > 0) parts.push(`${n} ${unit}${n === 1 ? '' : 's'}`)
  }
  if (s > 0 || parts.length === 0) parts.push(`${s} second${s === 1 ? '' : 's'}`)
  return parts.join(' ')
}
