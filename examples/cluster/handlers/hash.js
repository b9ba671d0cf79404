// ~tens of ms of CPU: what would block the event loop if it ran inline.
import { pbkdf2Sync } from 'node:crypto'

export default function (request) {
  const rounds = Math.min(Number(request.query.rounds ?? 100_000), 10_000_000)
  const key = pbkdf2Sync('password', 'salt', rounds, 32, 'sha256').toString('hex')
  return { pid: process.pid, rounds, key }
}
