// The `fastify-mpm` command line → cluster() options. Every flag is checked here, before anything
// is forked, so a mistake is answered with one line that names the flag as it was typed and what
// it accepts (with the nearest flag for a typo), not with node:util's parseArgs text or an API
// option name the user never wrote.

import { existsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import type { ClusterOptions } from './options.js'

export class UsageError extends Error {}

export type Command =
  | { command: 'help' }
  /** no command at all: the usage text, as an error (exit 2), like a bad flag */
  | { command: 'usage' }
  | { command: 'version' }
  /** `watch`: the app's folder, when --watch asks for a reload on every change (not a cluster() option) */
  | { command: 'start', options: ClusterOptions, watch: string | undefined }

interface Flag {
  short?: string
  type: 'string' | 'boolean'
  /** what the value may be, as said in error messages */
  accepts?: string
}

const WHOLE_MS = 'a whole number of milliseconds, 0 or more'
const FLAGS: Record<string, Flag> = {
  processes: { short: 'p', type: 'string', accepts: 'a whole number from 1 to 1024, or "auto"' },
  threads: { short: 't', type: 'string', accepts: 'a whole number "n" or "min:max" with min <= max, e.g. 4 or 1:4' },
  port: { type: 'string', accepts: 'a whole number from 0 to 65535' },
  host: { type: 'string', accepts: 'an address to listen on, e.g. 127.0.0.1, 0.0.0.0 or ::' },
  'graceful-timeout': { type: 'string', accepts: WHOLE_MS },
  'shutdown-delay': { type: 'string', accepts: WHOLE_MS },
  'max-requests': { type: 'string', accepts: 'a whole number, 0 (never) or more' },
  'max-requests-jitter': { type: 'string', accepts: 'a whole number, 0 or more' },
  'max-memory': { type: 'string', accepts: 'a whole number of MB of RSS, 0 (never) or more' },
  'max-memory-jitter': { type: 'string', accepts: 'a whole number of MB, 0 or more' },
  'heartbeat-timeout': { type: 'string', accepts: `${WHOLE_MS} (0 = off)` },
  'boot-timeout': { type: 'string', accepts: `${WHOLE_MS} (0 = no limit)` },
  watch: { type: 'boolean' },
  help: { short: 'h', type: 'boolean' },
  version: { short: 'v', type: 'boolean' }
}

/** Edit distance, for "did you mean". */
export function levenshtein (a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = row
  }
  return previous[b.length]
}

function unknownFlag (raw: string): UsageError {
  const typed = raw.replace(/^-+/, '')
  const names = Object.keys(FLAGS)
  // A flag with something appended (--threads.min, an API option's path) or a typo of one.
  const nearest = names.find((name) => typed.startsWith(`${name}.`)) ??
    names.map((name) => ({ name, distance: levenshtein(typed, name) }))
      .filter(({ distance }) => distance <= Math.max(2, Math.floor(typed.length / 3)))
      .sort((a, b) => a.distance - b.distance)[0]?.name
  const hint = raw.startsWith('--') && nearest !== undefined
    ? `did you mean --${nearest}?`
    : `options: ${Object.entries(FLAGS).map(([name, f]) => f.short === undefined ? `--${name}` : `-${f.short}/--${name}`).join(', ')}`
  return new UsageError(`unknown option ${raw} (${hint})`)
}

function integer (flag: string, value: string, min: number, max: number): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN
  if (!(n >= min && n <= max)) throw new UsageError(`${flag} must be ${accepts(flag)}; got "${value}"`)
  return n
}

function accepts (flag: string): string {
  if (flag === '$PORT') return FLAGS.port.accepts!
  return FLAGS[flag.replace(/^-+/, '')]?.accepts ?? Object.values(FLAGS).find((f) => `-${f.short}` === flag)?.accepts ?? ''
}

function threads (flag: string, value: string): string {
  const m = /^(\d+)(?::(\d+))?$/.exec(value)
  if (m === null || (m[2] !== undefined && Number(m[1]) > Number(m[2]))) {
    throw new UsageError(`${flag} must be ${FLAGS.threads.accepts}; got "${value}"`)
  }
  return value
}

export function parseCommandLine (argv: string[], env: NodeJS.ProcessEnv = process.env): Command {
  const options = Object.fromEntries(Object.entries(FLAGS).map(([name, f]) =>
    [name, f.short === undefined ? { type: f.type } : { type: f.type, short: f.short }]))
  // Not strict: parseArgs' own errors name no remedy; every token is checked below instead.
  const { tokens } = parseArgs({ args: argv, options, allowPositionals: true, strict: false, tokens: true })
  const values = new Map<string, { raw: string, value: string | undefined }>()
  const positionals: string[] = []
  for (const token of tokens) {
    if (token.kind === 'positional') { positionals.push(token.value); continue }
    if (token.kind !== 'option') continue
    const flag = FLAGS[token.name]
    if (flag === undefined) throw unknownFlag(token.rawName)
    if (flag.type === 'boolean' && token.value !== undefined) throw new UsageError(`${token.rawName} takes no value`)
    if (flag.type === 'string' && token.value === undefined) throw new UsageError(`${token.rawName} needs a value: ${flag.accepts}`)
    values.set(token.name, { raw: token.rawName, value: token.value })
  }
  if (values.has('version')) return { command: 'version' }
  const [command, app, ...rest] = positionals
  if (values.has('help') || command === 'help') return { command: 'help' }
  if (command === undefined) return { command: 'usage' }
  if (command !== 'start') throw new UsageError(`unknown command "${command}" (try: fastify-mpm start ./app.js)`)
  if (app === undefined) throw new UsageError('start needs the app module: fastify-mpm start ./app.js')
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}" (one app module per start)`)
  const path = resolve(app)
  if (!existsSync(path)) throw new UsageError(`app module ${app} does not exist (looked for ${path})`)

  const get = (name: string): [string, string] | undefined => {
    const v = values.get(name)
    return v === undefined ? undefined : [v.raw, v.value!]
  }
  const int = (name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined => {
    const v = get(name)
    return v === undefined ? undefined : integer(v[0], v[1], min, max)
  }
  const processes = get('processes')
  const threadsValue = get('threads')
  const port = get('port') ?? (env.PORT === undefined || env.PORT === '' ? undefined : ['$PORT', env.PORT])
  const host = get('host')?.[1] ?? env.HOST ?? '127.0.0.1'
  if (host === '') throw new UsageError(`${get('host')?.[0] ?? '$HOST'} must be ${FLAGS.host.accepts}; got ""`)
  return {
    command: 'start',
    watch: values.has('watch') ? dirname(path) : undefined,
    options: {
      app: pathToFileURL(path),
      processes: processes === undefined || processes[1] === 'auto' ? 'auto' : integer(processes[0], processes[1], 1, 1024),
      threads: threadsValue === undefined ? undefined : threads(threadsValue[0], threadsValue[1]),
      listen: { port: port === undefined ? 3000 : integer(port[0], port[1], 0, 65535), host },
      gracefulTimeout: int('graceful-timeout', 0),
      shutdownDelay: int('shutdown-delay', 0),
      maxRequestsPerProcess: int('max-requests', 0),
      maxRequestsJitter: int('max-requests-jitter', 0),
      maxProcessMemory: int('max-memory', 0),
      maxProcessMemoryJitter: int('max-memory-jitter', 0),
      heartbeatTimeout: int('heartbeat-timeout', 0),
      bootTimeout: int('boot-timeout', 0)
    }
  }
}
