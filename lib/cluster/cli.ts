#!/usr/bin/env node
// fastify-mpm start ./app.js --processes 4 --threads 1:4 --port 3000
// The primary of a cluster, from the command line; flags map 1:1 onto cluster() options.

import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { parseThreads } from '../options.js'
import { cluster } from './index.js'
import { defaultThreadsPerProcess, type ClusterOptions } from './options.js'

function help (): string {
  const cores = availableParallelism()
  const perProcess = defaultThreadsPerProcess(cores, cores)
  // [flag, default, Apache / Puma / Gunicorn, what it does]
  const rows: Array<[string, string, string, string]> = [
    ['-p, --processes <n|auto>', `auto (= ${cores} cores here)`, 'StartServers / workers / workers', ''],
    ['-t, --threads <n|min:max>', `1:${perProcess} here`, 'ThreadsPerChild / threads / threads',
      'per process; default 1 to cores/processes, so processes × threads ≈ cores;\n' +
      'sets the plugin\'s default in every process (options given to the plugin in the app win)'],
    ['--port <n>', '$PORT or 3000', 'Listen / bind / bind', ''],
    ['--host <address>', '$HOST or 127.0.0.1', 'Listen / bind / bind', ''],
    ['--graceful-timeout <ms>', '30000', 'GracefulShutdownTimeout / worker_shutdown_timeout / graceful_timeout',
      'in-flight requests get this long on stop, reload and recycle; then the process is killed'],
    ['--shutdown-delay <ms>', '0', '– / – / – (Kubernetes: preStop sleep)',
      'on SIGTERM, fail readiness at once but keep serving this long before closing the listener'],
    ['--max-requests <n>', '0 (never)', 'MaxConnectionsPerChild / – / max_requests',
      'replace a process after n requests, the new one listening first'],
    ['--max-requests-jitter <n>', '0', '– / – / max_requests_jitter',
      'add a random 0..n per process, so they do not all recycle at once'],
    ['--max-memory <MB>', '0 (never)', '– / – / – (pm2: max_memory_restart)',
      'replace a process whose RSS passes this, the new one listening first'],
    ['--max-memory-jitter <MB>', 'a tenth of it', '',
      'lower each process\'s limit by a random 0..n, so they do not all recycle at once'],
    ['--heartbeat-timeout <ms>', '30000 (0 = off)', '– / worker_timeout / timeout',
      'kill and replace a process whose event loop is blocked this long'],
    ['--boot-timeout <ms>', '60000 (0 = none)', '– / worker_boot_timeout / –',
      'a process must build the app and listen within this'],
    ['-h, --help', 'this text', '', '']
  ]
  const options = rows.map(([flag, def, equivalent, what]) => {
    let text = `  ${flag.padEnd(27)} ${def.padEnd(24)} ${equivalent}`.trimEnd()
    for (const line of what === '' ? [] : what.split('\n')) text += `\n${' '.repeat(30)}${line}`
    return text
  }).join('\n')
  return `Usage: fastify-mpm start <app module> [options]

Runs the app module (its default export builds and returns a Fastify instance, not listening)
in N processes × M threads, like Apache's worker MPM. A .ts module runs under tsx.

  Option                      Default                  Apache / Puma / Gunicorn
${options}

Signals to the primary (its pid is in the "listening on" line):
  SIGHUP           graceful reload: new processes one at a time, each listening before an old
                   one stops; if the new code fails to boot, the old processes keep serving
  SIGTERM, SIGINT  graceful stop, exit code 0 (a second SIGINT kills at once)
  SIGTTIN/SIGTTOU  one process more / one less
`
}

function integerFlag (name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`--${name} must be a whole number, got "${value}"`)
  return Number(value)
}

class UsageError extends Error {}

function prefixed (message: string): string {
  return message.startsWith('fastify-mpm:') ? message : `fastify-mpm: ${message}`
}

function parse (argv: string[]): { command: string | undefined, options: ClusterOptions | undefined } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      processes: { type: 'string', short: 'p' },
      threads: { type: 'string', short: 't' },
      port: { type: 'string' },
      host: { type: 'string' },
      'graceful-timeout': { type: 'string' },
      'shutdown-delay': { type: 'string' },
      'max-requests': { type: 'string' },
      'max-requests-jitter': { type: 'string' },
      'max-memory': { type: 'string' },
      'max-memory-jitter': { type: 'string' },
      'heartbeat-timeout': { type: 'string' },
      'boot-timeout': { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  const [command, app, ...rest] = positionals
  if (values.help === true || command === undefined || command === 'help') return { command: 'help', options: undefined }
  if (command !== 'start') throw new UsageError(`unknown command "${command}" (try: fastify-mpm start ./app.js)`)
  if (app === undefined) throw new UsageError('start needs the app module: fastify-mpm start ./app.js')
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`)

  const processes = values.processes === undefined || values.processes === 'auto'
    ? 'auto'
    : integerFlag('processes', values.processes)
  // Validate here so a typo is a usage error naming the flag, not a child's boot failure.
  if (values.threads !== undefined) parseThreads(values.threads, '--threads')
  return {
    command,
    options: {
      app: pathToFileURL(resolve(app)),
      processes,
      threads: values.threads,
      listen: {
        port: integerFlag('port', values.port ?? process.env.PORT) ?? 3000,
        host: values.host ?? process.env.HOST ?? '127.0.0.1'
      },
      gracefulTimeout: integerFlag('graceful-timeout', values['graceful-timeout']),
      shutdownDelay: integerFlag('shutdown-delay', values['shutdown-delay']),
      maxRequestsPerProcess: integerFlag('max-requests', values['max-requests']),
      maxRequestsJitter: integerFlag('max-requests-jitter', values['max-requests-jitter']),
      maxProcessMemory: integerFlag('max-memory', values['max-memory']),
      maxProcessMemoryJitter: integerFlag('max-memory-jitter', values['max-memory-jitter']),
      heartbeatTimeout: integerFlag('heartbeat-timeout', values['heartbeat-timeout']),
      bootTimeout: integerFlag('boot-timeout', values['boot-timeout'])
    }
  }
}

async function main (): Promise<void> {
  let parsed
  try {
    parsed = parse(process.argv.slice(2))
  } catch (err) {
    process.stderr.write(`${prefixed((err as Error).message)}\nRun fastify-mpm --help for the options.\n`)
    process.exitCode = 2
    return
  }
  if (parsed.command === 'help' || parsed.options === undefined) {
    process.stdout.write(help())
    return
  }
  let handle
  try {
    handle = await cluster(parsed.options)
  } catch (err) {
    // Bad input is a usage error (2); a process that could not boot is a failed start (1).
    const invalid = (err as { code?: string }).code === 'FST_MPM_INVALID_OPTION'
    process.stderr.write(`${prefixed((err as Error).message)}\n${invalid ? 'Run fastify-mpm --help for the options.\n' : ''}`)
    process.exitCode = invalid ? 2 : 1
    return
  }
  const { exitCode } = await handle.stopped
  process.exitCode = exitCode
}

await main()
