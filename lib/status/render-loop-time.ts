// The status page's "Event-loop time by route" section: the advisor's rows, worst first, each
// route over the threshold with its suggestion in words. Kept apart from render-html.ts, which
// owns the page's frame and style.

import { percent, type LoopTimeRow } from './loop-report.js'

export const LOOP_TIME_CSS = `
#loop-time td.advice{white-space:normal;text-align:left;max-width:44em}
#loop-time tr.over td{background:#fff1e5}
.bar{display:inline-block;height:8px;border-radius:2px;background:#fb8500;vertical-align:middle;margin-right:6px}
`

export function loopTimeSection (rows: LoopTimeRow[] | undefined, thresholdMs: number | undefined, esc: (text: string) => string): string {
  if (rows === undefined || thresholdMs === undefined) return ''
  const body = rows.length === 0
    ? '<p class="sub">No request has finished in the window yet.</p>'
    : `<div class="fit"><table id="loop-time"><thead><tr><th>route</th><th>requests</th>
<th title="main-thread time per request, median">p50</th><th>p99</th><th>max</th><th title="main-thread time, all requests in the window">total</th>
<th title="of the main threads' busy time over the window">share of loop</th><th>advice</th></tr></thead>
<tbody>
${rows.map((row) => loopRow(row, esc)).join('\n')}
</tbody></table></div>`
  return `<section><h2>Event-loop time by route</h2>
${body}
<p class="sub">Main-thread time each request held the event loop (its handler's synchronous part and the sending of its answer),
over the last few minutes, all processes. Routes past ${thresholdMs} ms at p99 (with at least 10 % of their requests, or 10, over it) are flagged.</p>
</section>
`
}

function loopRow (row: LoopTimeRow, esc: (text: string) => string): string {
  const { blockedMs } = row
  const over = row.suggestion !== undefined && !row.offloaded
  const name = `${esc(row.route)}${row.offloaded ? '<small>offloaded</small>' : ''}`
  const bar = `<span class="bar" style="width:${Math.max(1, Math.round(row.share * 80))}px"></span>`
  return `<tr${over ? ' class="over"' : ''}><td class="route">${name}</td><td>${row.requests.toLocaleString('en-US')}</td>` +
    `<td>${ms(blockedMs.p50)}</td><td${blockedMs.p99 > 0 && over ? ' class="bad"' : ''}>${ms(blockedMs.p99)}</td><td>${ms(blockedMs.max)}</td>` +
    `<td>${ms(blockedMs.total)}</td><td>${bar}${percent(row.share)}</td><td class="advice">${row.suggestion === undefined ? '' : esc(row.suggestion)}</td></tr>`
}

function ms (value: number): string {
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`
  return `${value.toFixed(value < 10 ? 2 : 1)} ms`
}
