// A forwarded log line keeps the time its handler wrote it. Lines from a thread reach the main
// thread later (after the task's result, sometimes after the request's own error line), and pino
// stamps a line when it is written: so the line is written through a view of the logger whose
// clock reads the thread's time. pino's options cannot do this per line (a `time` property or a
// mixin would print a second "time" key), hence its documented `symbols` hook, found by name so
// that any pino copy works. Anything that is not pino gets the line as it is.

const TIME_SYMBOL = 'pino.time'

function timeSymbol (log: object): symbol | undefined {
  for (let o: object | null = log; o !== null; o = Object.getPrototypeOf(o) as object | null) {
    for (const s of Object.getOwnPropertySymbols(o)) if (s.description === TIME_SYMBOL) return s
  }
  return undefined
}

/** pino's stamp (`,"time":…`) for `time`, in whichever of its standard formats `stamp` uses. */
function restamp (stamp: string, time: number): string | undefined {
  const epoch = /^,"time":(\d+)$/.exec(stamp)
  if (epoch !== null) return `,"time":${epoch[1].length <= 10 ? Math.round(time / 1000) : time}`
  if (/^,"time":"\d{4}-\d\d-\d\dT[\d:.]+Z"$/.test(stamp)) return `,"time":"${new Date(time).toISOString()}"`
  return undefined // no time (timestamp: false) or a custom format: left as pino writes it
}

/** `log`, or a view of it that stamps its lines with `time` (ms since the epoch). */
export function loggerAt<T extends object> (log: T, time: number | undefined): T {
  if (time === undefined) return log
  const sym = timeSymbol(log)
  const clock = sym === undefined ? undefined : (log as Record<symbol, unknown>)[sym]
  if (typeof clock !== 'function') return log
  const stamp = restamp(String((clock as () => string).call(log)), time)
  if (stamp === undefined) return log
  const view = Object.create(log) as Record<symbol, unknown>
  view[sym!] = () => stamp
  return view as T
}
