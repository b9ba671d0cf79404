// Starts one benchmark server (bench/servers/*.js) in its own process and talks to it over IPC:
// its port, and its CPU time and RSS around each measured run.
import { fork } from 'node:child_process'
import { once } from 'node:events'

const STARTUP_MS = 30_000

export async function startServer ({ script, env = {}, execArgv = [], name }) {
  const child = fork(script, [], {
    env: { ...process.env, ...env },
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`server ${name}: not ready within ${STARTUP_MS} ms`)) }, STARTUP_MS)
    const onExit = (code, signal) => { clearTimeout(timer); reject(new Error(`server ${name} (${script}) exited during startup: ${signal ?? code}`)) }
    child.once('exit', onExit)
    child.on('message', function onMessage (msg) {
      if (msg?.ready !== true) return
      clearTimeout(timer)
      child.off('exit', onExit)
      child.off('message', onMessage)
      resolve(msg)
    })
  })
  return new Server(child, ready.port, name)
}

class Server {
  #seq = 0
  constructor (child, port, name) {
    this.child = child
    this.pid = child.pid
    this.port = port
    this.name = name
    this.origin = `http://127.0.0.1:${port}`
  }

  /** { cpuUs, rss }: the server's whole CPU time so far (all its threads) and its RSS in bytes. */
  usage () {
    const id = ++this.#seq
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server ${this.name}: no usage answer`)), 10_000)
      const onMessage = (msg) => {
        if (msg?.id !== id) return
        clearTimeout(timer)
        this.child.off('message', onMessage)
        resolve(msg.usage)
      }
      this.child.on('message', onMessage)
      this.child.send({ cmd: 'usage', id })
    })
  }

  async stop () {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = once(this.child, 'exit')
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000)
    await exited
    clearTimeout(timer)
  }
}
