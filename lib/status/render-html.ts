// The human page: one self-contained HTML document (inline CSS, no script, no external assets),
// so it renders the same behind any proxy and refreshes with a plain meta tag. Each pool of each
// process is its own scoreboard row; a process-isolated pool's slots are round, a thread's square.

import type { SlotState } from '../core/pool.js'
import { LOOP_TIME_CSS, loopTimeSection } from './render-loop-time.js'
import { LETTER_KEY, LETTERS } from './scoreboard.js'
import type { PoolSnapshot } from './scoreboard.js'
import type { ProcessSummary, RouteSummary, ServerStatus } from './summary.js'

export interface HtmlOptions {
  /** seconds between automatic reloads, 0 = none */
  refresh: number
}

const STATE_BY_LETTER = new Map<string, SlotState>(Object.entries(LETTERS).map(([state, letter]) => [letter, state as SlotState]))
const QUEUE_CELLS = 24
/** Columns of the Processes table; a process that did not answer spans the ones after its uptime. */
const PROCESS_COLUMNS = 17

const CSS = `
:root{--fg:#1f2328;--muted:#656d76;--line:#d8dee4;--bg:#f6f8fa;--card:#fff;
--idle:#dff3e4;--idle-fg:#1a7f37;--busy:#fb8500;--busy-fg:#fff;--start:#cfe2ff;--start-fg:#0a58ca;
--grace:#8250df;--grace-fg:#fff;--open:#fff;--open-fg:#8c959f}
*{box-sizing:border-box}
body{margin:0;padding:24px 32px 40px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;align-items:baseline;gap:16px;flex-wrap:wrap;margin-bottom:18px}
h1{font-size:22px;margin:0}
h2{font-size:15px;margin:0 0 12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
.sub{color:var(--muted)}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px 18px;margin-bottom:16px}
.note{background:#fff8c5;border:1px solid #d4a72c;border-radius:8px;padding:10px 14px;margin-bottom:16px}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(120px,1fr));gap:10px;background:none;border:0;padding:0}
.tile{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.tile b{display:block;font-size:20px;font-variant-numeric:tabular-nums}
.tile span{color:var(--muted);font-size:12px}
.board{display:flex;flex-direction:column;gap:10px}
.row{display:flex;align-items:center;gap:14px;flex-wrap:wrap}
.label{width:150px;font-variant-numeric:tabular-nums}
.label small{display:block;color:var(--muted)}
.grid{display:flex;flex-wrap:wrap;gap:4px}
.cell{width:28px;height:28px;border-radius:5px;display:inline-flex;align-items:center;justify-content:center;
font:600 14px/1 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;border:1px solid transparent}
.s-idle{background:var(--idle);color:var(--idle-fg);border-color:#aceebb}
.s-busy{background:var(--busy);color:var(--busy-fg)}
.s-starting{background:var(--start);color:var(--start-fg)}
.s-finishing{background:var(--grace);color:var(--grace-fg)}
.s-open{background:var(--open);color:var(--open-fg);border:1px dashed #c6ccd2}
.k-process{border-radius:50%}
.pool{display:inline-block;min-width:64px;color:var(--muted);font-size:12px}
.queue{display:flex;align-items:center;gap:3px;color:var(--muted);font-size:12px}
.qcell{width:8px;height:18px;border-radius:2px;background:#ffd8a8}
.missing{color:#cf222e}
.key{display:flex;flex-wrap:wrap;gap:6px 18px;margin:14px 0 0;padding:12px 0 0;border-top:1px solid var(--line);color:var(--muted);font-size:12px}
.key div{display:flex;align-items:center;gap:6px}
.key .cell{width:20px;height:20px;font-size:12px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:right;padding:6px 10px;border-bottom:1px solid var(--line);white-space:nowrap}
th:first-child,td:first-child{text-align:left}
th{color:var(--muted);font-weight:600;font-size:12px;vertical-align:bottom}
td small{display:block;color:var(--muted);font-size:12px}
.fit{overflow-x:auto}
#processes th,#processes td{padding:6px 7px}
#processes th{white-space:normal}
#processes th.group{text-align:center;border-bottom:2px solid var(--line);padding-bottom:2px}
#processes td.wrap{white-space:normal;text-align:left}
tr:last-child td{border-bottom:0}
td.route{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.bad{color:#cf222e}
footer{color:var(--muted);font-size:12px}
footer a{color:#0969da}
`

export function renderHtml (status: ServerStatus, opts: HtmlOptions): string {
  const { server, totals } = status
  const processes = `${totals.processes} process${totals.processes === 1 ? '' : 'es'}`
  const refresh = opts.refresh > 0 ? `<meta http-equiv="refresh" content="${opts.refresh}">\n` : ''
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${refresh}<title>Server status · fastify-mpm</title>
<style>${CSS}${LOOP_TIME_CSS}</style></head>
<body>
<header><h1>Server status</h1><span class="sub">fastify-mpm ${esc(server.version)} · Node.js ${esc(server.node)} ·
${server.mode === 'cluster' ? `cluster of ${processes}, primary pid ${server.pid}, page from pid ${server.servedBy}` : `single process, pid ${server.pid}`} ·
${esc(server.generatedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))}</span></header>
${server.note === undefined ? '' : `<div class="note" role="status">${esc(server.note)}</div>\n`}<section class="tiles">
${tile(shortDuration(server.uptimeSec), 'server uptime')}
${tile(int(totals.accesses), 'requests served')}
${tile(fixed(totals.reqPerSec, 2), 'requests / s')}
${tile(`${totals.busy} / ${totals.idle}`, 'threads busy / idle')}
${tile(`${int(totals.connections.total)} / ${int(totals.connections.keepAlive)}`, 'connections / keep-alive')}
${tile(int(totals.queued), 'queued')}
${tile(int(totals.rejected), 'rejected (503)')}
${tile(int(totals.queueTimedOut), 'waited too long (503)')}
${tile(int(totals.timedOut), 'timed out')}
${tile(int(totals.recycled), 'threads recycled')}
${totals.recycledMemory > 0 ? tile(int(totals.recycledMemory), 'threads recycled (memory)') : ''}
${server.mode === 'cluster' ? tile(int(server.processRestarts), 'process restarts') : ''}
${(server.processRecycles['max-memory'] ?? 0) > 0 ? tile(int(server.processRecycles['max-memory'] ?? 0), 'processes recycled (memory)') : ''}
</section>
<section><h2>Scoreboard</h2>
<div class="board" id="scoreboard">
${status.processes.map(boardRow).join('\n')}
</div>
<div class="key">${LETTER_KEY.map(([letter, meaning]) => `<div>${cell(letter, meaning)}${esc(meaning)}</div>`).join('')}<div><span class="qcell"></span>task waiting in the queue</div>${hasProcessPool(status) ? `<div>${cell('_', 'process slot', 'process')}round: a process slot (isolation: 'process'); square: a thread</div>` : ''}</div>
</section>
<section><h2>Processes</h2>
<div class="fit"><table id="processes"><thead>
<tr><th rowspan="2">process</th><th rowspan="2">uptime</th><th rowspan="2" title="requests served, and per second since the process started">requests</th>
<th colspan="4" class="group">thread pool</th><th colspan="4" class="group">offloaded tasks</th>
<th rowspan="2" title="main event loop utilization over the last second">event loop</th>
<th colspan="4" class="group" title="open connections, as Apache's event MPM counts them">connections</th><th rowspan="2" title="resident set size">RSS</th></tr>
<tr><th>busy</th><th>idle</th><th title="threads running, of the pool's min–max">size</th><th title="tasks waiting for a thread, of maxQueue">queue</th>
<th title="answered 503 at once: the queue was full">rejected</th><th>timed out</th><th>crashed</th><th title="threads recycled: after maxTasksPerThread (+ after maxThreadMemory)">recycled</th>
<th>open</th><th title="idle keep-alive connections">keep-alive</th><th title="answer produced, bytes still going out">writing</th><th title="half-closed">closing</th></tr>
</thead>
<tbody>
${status.processes.map(processRow).join('\n')}
</tbody></table></div>
</section>
<section><h2>Offloaded routes</h2>
${status.routes.length === 0
    ? '<p class="sub">No offloaded request has finished yet.</p>'
    : `<table id="routes"><thead><tr><th>route</th>${named(status) ? '<th>pool</th>' : ''}<th>requests</th><th>mean</th><th>p50</th><th>p99</th><th>max</th>
<th>errors</th><th>timeouts</th><th>rejected</th><th>crashed</th></tr></thead>
<tbody>
${status.routes.map((r) => routeRow(r, named(status))).join('\n')}
</tbody></table>`}
</section>
${loopTimeSection(status.loopTime, status.loopTimeThresholdMs, esc)}<footer>Also as <a href="?auto">?auto</a> (Apache mod_status keys) and <a href="?json">?json</a> ·
auto-refresh: <a href="?refresh=5">?refresh=5</a> · request times are measured in the threads, since each process started.</footer>
</body></html>
`
}

/** One row per pool of the process (the default pool's alone, unnamed, when it has no other). */
function boardRow (p: ProcessSummary): string {
  const worker = p.workerId === undefined ? '' : `worker ${p.workerId} · `
  const label = `<div class="label">pid ${p.pid}<small>${worker}${esc(p.state)}</small></div>`
  if (!p.answered) return `<div class="row" data-pid="${p.pid}">${label}<div class="missing">${esc(p.reason)}</div></div>`
  const pools: PoolSnapshot[] = p.pools ?? [{ name: 'default', isolation: 'thread', scoreboard: p.scoreboard, slots: p.slots, stats: p.pool }]
  const alone = pools.length === 1 && pools[0].isolation === 'thread'
  return pools.map((pool) => {
    const kind = pool.isolation === 'process' ? 'process' : 'thread'
    const cells = [...pool.scoreboard].map((letter, i) => cell(letter, `pid ${p.pid}, ${alone ? '' : `pool ${pool.name}, `}${kind} slot ${i + 1}: ${meaningOf(letter)}`, kind)).join('')
    const waiting = pool.stats.queued
    const queue = `<div class="queue" title="${waiting} task(s) waiting for a ${kind}">queue ${waiting} / ${pool.stats.maxQueue}` +
      `${'<span class="qcell"></span>'.repeat(Math.min(waiting, QUEUE_CELLS))}${waiting > QUEUE_CELLS ? ` +${waiting - QUEUE_CELLS}` : ''}</div>`
    const name = alone ? '' : `<span class="pool" title="${kind} pool">${esc(pool.name)}${kind === 'process' ? ' (processes)' : ''}</span>`
    return `<div class="row" data-pid="${p.pid}"${alone ? '' : ` data-pool="${esc(pool.name)}"`}>${label}${name}<div class="grid">${cells}</div>${queue}</div>`
  }).join('\n')
}

function cell (letter: string, title: string, kind: 'thread' | 'process' = 'thread'): string {
  const state = STATE_BY_LETTER.get(letter) ?? 'open'
  const process = kind === 'process' ? ' k-process" data-kind="process' : ''
  return `<span class="cell s-${state}${process}" data-state="${state}" title="${esc(title)}">${esc(letter)}</span>`
}

/** More than the default pool: the routes table says which pool runs each route. */
function named (status: ServerStatus): boolean { return Object.keys(status.totals.pools).length > 1 }

function hasProcessPool (status: ServerStatus): boolean {
  return Object.values(status.totals.pools).some((pool) => pool.isolation === 'process')
}

function meaningOf (letter: string): string {
  return LETTER_KEY.find(([l]) => l === letter)?.[1] ?? 'unknown'
}

function processRow (p: ProcessSummary): string {
  const worker = p.workerId === undefined ? '' : `worker ${p.workerId} · `
  const head = `<td>${p.pid}<small>${worker}${esc(p.state)}</small></td>`
  if (!p.answered) {
    return `<tr>${head}<td>${shortDuration(p.uptimeSec)}</td><td colspan="${PROCESS_COLUMNS - 2}" class="bad wrap">${esc(p.reason)}</td></tr>`
  }
  const pool = p.pool
  return `<tr>${head}<td>${shortDuration(p.uptimeSec)}</td><td>${int(p.accesses)}<small>${fixed(p.reqPerSec, 2)}/s</small></td>` +
    `<td>${p.slots.busy + p.slots.finishing}</td><td>${p.slots.idle}</td><td>${pool.threads} of ${pool.minThreads === pool.maxThreads ? pool.maxThreads : `${pool.minThreads}–${pool.maxThreads}`}</td>` +
    `<td>${pool.queued} / ${pool.maxQueue}</td>${count(pool.rejected)}${count(pool.timedOut)}${count(pool.crashed)}<td>${int(pool.recycled)}${pool.recycledMemory > 0 ? ` + ${int(pool.recycledMemory)} mem` : ''}</td>` +
    `<td>${Math.round(p.eventLoopUtilization * 100)} %</td>` +
    `<td>${int(p.connections.total)}</td><td>${int(p.connections.keepAlive)}</td><td>${int(p.connections.writing)}</td><td>${int(p.connections.closing)}</td>` +
    `<td>${mb(p.memory.rss)}</td></tr>`
}

function routeRow (r: RouteSummary, pools: boolean): string {
  const requests = Object.values(r.results).reduce((n, v) => n + (v ?? 0), 0)
  // No run, no time: a route nobody called shows a dash, not a measured 0.00 ms.
  const time = (value: number): string => `<td>${r.count > 0 ? ms(value) : '–'}</td>`
  return `<tr><td class="route">${esc(r.route)}</td>${pools ? `<td>${esc(r.pool ?? '')}</td>` : ''}<td>${int(requests)}</td>${time(r.meanMs)}${time(r.p50Ms)}` +
    `${time(r.p99Ms)}${time(r.maxMs)}${count(r.results.error)}${count(r.results.timeout)}${count(r.results.rejected)}${count(r.results.crashed)}</tr>`
}

/** 42s, 5m 03s, 2h 07m, 3d 04h: fits a tile on one line. */
function shortDuration (seconds: number): string {
  const s = Math.floor(seconds)
  const pad = (n: number): string => String(n).padStart(2, '0')
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad(Math.floor(s / 60) % 60)}m`
  return `${Math.floor(s / 86400)}d ${pad(Math.floor(s / 3600) % 24)}h`
}

function tile (value: string, label: string): string {
  return `<div class="tile"><b>${esc(value)}</b><span>${esc(label)}</span></div>`
}

function count (n: number | undefined): string {
  return `<td${n !== undefined && n > 0 ? ' class="bad"' : ''}>${int(n ?? 0)}</td>`
}

function ms (value: number): string {
  if (value >= 1000) return `${fixed(value / 1000, 2)} s`
  return `${fixed(value, value < 10 ? 2 : 1)} ms`
}

function mb (bytes: number): string { return `${fixed(bytes / 1048576, 1)} MB` }
function int (n: number): string { return Math.round(n).toLocaleString('en-US') }
function fixed (n: number, digits: number): string { return n.toFixed(digits) }

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
function esc (text: string): string { return text.replace(/[&<>"']/g, (c) => ESCAPES[c]) }
