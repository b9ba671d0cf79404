// Medians and the markdown table.

export function median (values) {
  const xs = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (xs.length === 0) return NaN
  const mid = xs.length >> 1
  return xs.length % 2 === 1 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2
}

/** Median of every numeric key over a variant's runs (each key on its own). */
export function medians (runs) {
  const keys = new Set(runs.flatMap((run) => Object.keys(run).filter((k) => typeof run[k] === 'number')))
  return Object.fromEntries([...keys].map((k) => [k, median(runs.map((run) => run[k]))]))
}

export function format (value, digits = 0) {
  if (!Number.isFinite(value)) return '–'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/** columns: [{ key, label, digits }]; rows: [{ variant, values }]. */
export function markdownTable (columns, rows) {
  const header = ['Variant', ...columns.map((c) => c.label)]
  const lines = rows.map((row) => [row.label, ...columns.map((c) => format(row.values[c.key], c.digits))])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)))
  const fmt = (cells) => '| ' + cells.map((cell, i) => i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])).join(' | ') + ' |'
  const rule = '|' + widths.map((w, i) => i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':').join('|') + '|'
  return [fmt(header), rule, ...lines.map(fmt)].join('\n')
}
