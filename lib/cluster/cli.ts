#!/usr/bin/env node
// fastify-mpm start ./app.js --processes 2 --threads 1:2 --port 3000
// The primary of a cluster, from the command line; flags map 1:1 onto cluster() options, except
// --watch, which this file acts on (a development aid around the cluster's reload).

import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { pino } from 'pino'
import { parseCommandLine, UsageError } from './cli-args.js'
import { cluster } from './index.js'
import { defaultThreadsPerProcess } from './options.js'
import { watchAndReload } from './watch.js'

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
    ['--watch', 'off', '– / – / reload (node --watch)',
      'development aid: reload every process gracefully when a file under the app\'s folder\n' +
      'changes (node_modules and dot-folders ignored); not for production'],
    ['-h, --help', 'this text', '', ''],
    ['-v, --version', 'print the version', '', '']
  ]
  const options = rows.map(([flag, def, equivalent, what]) => {
    let text = `  ${flag.padEnd(27)} ${def.padEnd(24)} ${equivalent}`.trimEnd()
    for (const line of what === '' ? [] : what.split('\n')) text += `\n${' '.repeat(30)}${line}`
    return text
  }).join('\n')
  return `Usage: fastify-mpm start <app module> [options]
       fastify-mpm --version

Runs the app module in N processes × M threads, like Apache's worker MPM. Its default export
builds and returns the app, not listening: a Fastify instance, an Express app or an
http.Server. A .ts module runs on Node's type stripping (Node.js 22.18+), or under tsx where the app
has it installed.

  Option                      Default                  Apache / Puma / Gunicorn
${options}

Signals to the primary (its pid is in the "listening on" line):
  SIGHUP           graceful reload: new processes one at a time, each listening before an old
                   one stops; if the new code fails to boot, the old processes keep serving
  SIGTERM, SIGINT  graceful stop, exit code 0 (a second SIGINT kills at once)
  SIGTTIN/SIGTTOU  one process more / one less
`
}

function prefixed (message: string): string {
  return message.startsWith('fastify-mpm:') ? message : `fastify-mpm: ${message}`
}

function version (): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
}

async function main (): Promise<void> {
  let parsed
  try {
    parsed = parseCommandLine(process.argv.slice(2))
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`${prefixed(err.message)}\n`)
    process.exitCode = 2
    return
  }
  if (parsed.command === 'version') {
    process.stdout.write(`${version()}\n`)
    return
  }
  if (parsed.command === 'help') {
    process.stdout.write(help())
    return
  }
  if (parsed.command === 'usage') {
    // Nothing asked for: the usage, as for a bad flag, on stderr with exit 2, so a script that
    // lost its arguments fails instead of passing.
    process.stderr.write(help())
    process.exitCode = 2
    return
  }
  let handle
  try {
    handle = await cluster(parsed.options)
  } catch (err) {
    // Bad input is a usage error (2); a process that could not boot is a failed start (1).
    const invalid = (err as { code?: string }).code === 'FST_MPM_INVALID_OPTION'
    process.stderr.write(`${prefixed((err as Error).message)}${invalid ? ' (fastify-mpm --help lists the options)' : ''}\n`)
    process.exitCode = invalid ? 2 : 1
    return
  }
  const unwatch = parsed.watch === undefined
    ? undefined
    : watchAndReload(parsed.watch, handle, pino({ base: { name: 'fastify-mpm', primary: process.pid } }))
  const { exitCode } = await handle.stopped
  unwatch?.()
  process.exitCode = exitCode
}

await main()
