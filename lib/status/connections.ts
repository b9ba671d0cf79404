// One node:http server's connections as Apache's event MPM counts them. A Node process's event
// loop is the event MPM's listener thread: it holds every connection and only an offloaded
// request occupies a thread, so open connections and busy threads are separate figures.
// Written against node's http.Server and its public events (not Fastify's internals) so any
// adapter can hand its server over.

import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

/** Open connections by state; `keepAlive + writing + closing + active = total`. */
export interface ConnectionCounts {
  /** every open connection (Apache `ConnsTotal`) */
  total: number
  /** no request in flight: idle between requests, or opened and not yet sent one (`ConnsAsyncKeepAlive`) */
  keepAlive: number
  /** the answer is produced (ended) but its bytes are still going out (`ConnsAsyncWriting`) */
  writing: number
  /** half-closed, waiting for the socket to go away (`ConnsAsyncClosing`) */
  closing: number
  /** a request being read or handled */
  active: number
}

export const NO_CONNECTIONS: ConnectionCounts = Object.freeze({ total: 0, keepAlive: 0, writing: 0, closing: 0, active: 0 })

interface Open {
  inFlight: number
  /** the latest response on this connection, until it closes */
  response: ServerResponse | undefined
}

/**
 * Watches a server's connections from the moment it is created. Counting costs a listener per
 * request; the states are read only when asked, by walking the open connections.
 */
export class ConnectionTracker {
  readonly #open = new Map<Socket, Open>()

  constructor (server: Server) {
    // A TLS server's requests arrive on the TLS socket, which 'secureConnection' hands over.
    const event = typeof (server as { setSecureContext?: unknown }).setSecureContext === 'function' ? 'secureConnection' : 'connection'
    server.on(event, (socket: Socket) => {
      this.#open.set(socket, { inFlight: 0, response: undefined })
      socket.once('close', () => this.#open.delete(socket))
    })
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const open = this.#open.get(req.socket)
      if (open === undefined) return
      open.inFlight++
      open.response = res
      res.once('close', () => {
        open.inFlight--
        if (open.response === res) open.response = undefined
      })
    })
  }

  counts (): ConnectionCounts {
    const counts = { total: 0, keepAlive: 0, writing: 0, closing: 0, active: 0 }
    for (const [socket, open] of this.#open) {
      counts.total++
      const res = open.response
      if (res !== undefined && res.writableEnded && !res.writableFinished) counts.writing++
      else if (socket.destroyed || socket.writableEnded || socket.readableEnded) counts.closing++
      else if (open.inFlight > 0) counts.active++
      else if (socket.writableLength > 0) counts.writing++
      else counts.keepAlive++
    }
    return counts
  }
}

export function addConnectionCounts (a: ConnectionCounts, b: ConnectionCounts): ConnectionCounts {
  return {
    total: a.total + b.total,
    keepAlive: a.keepAlive + b.keepAlive,
    writing: a.writing + b.writing,
    closing: a.closing + b.closing,
    active: a.active + b.active
  }
}
