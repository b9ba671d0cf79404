// `?auto`: Apache mod_status's machine-readable `Key: value` lines, so scripts and monitoring
// plugins written for Apache (collectd, Munin, Datadog's apache check) read it unchanged,
// followed by the keys only a thread pool has (queue, timeouts, recycling).

import type { ServerStatus } from './summary.js'

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
    ['Scoreboard', status.scoreboard]
  ]
  return lines.map(([key, value]) => `${key}: ${value}\n`).join('')
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
