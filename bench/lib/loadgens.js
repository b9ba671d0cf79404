// Parent side of bench/lib/loadgen.js: long-lived load-generator processes (forked once, so
// their startup is not paid per run), each running one load at a time.
import { fork } from 'node:child_process'
import { once } from 'node:events'

const ENTRY = new URL('./loadgen.js', import.meta.url)

export class LoadGen {
  #seq = 0
  #pending = new Map()
  constructor () {
    this.child = fork(ENTRY, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.child.on('message', ({ id, result, error }) => {
      const pending = this.#pending.get(id)
      if (pending === undefined) return
      this.#pending.delete(id)
      if (error !== undefined) pending.reject(new Error(`load generator: ${error}`))
      else pending.resolve(result)
    })
    this.child.on('exit', (code, signal) => {
      for (const { reject } of this.#pending.values()) reject(new Error(`load generator exited: ${signal ?? code}`))
      this.#pending.clear()
    })
  }

  /** autocannon closed loop: { url, connections, duration (s) }. */
  cannon (opts) { return this.#ask('cannon', opts) }
  /** Open loop at a fixed rate: { url, rate (req/s), duration (s) }. */
  paced (opts) { return this.#ask('paced', opts) }
  /** Streamed downloads: { url, connections, duration (s) or count, bytesPerSecond?, timeout (s) }. */
  download (opts) { return this.#ask('download', opts) }

  #ask (mode, opts) {
    const id = ++this.#seq
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.child.send({ id, mode, opts })
    })
  }

  async close () {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = once(this.child, 'exit')
    this.child.disconnect()
    await exited
  }
}
