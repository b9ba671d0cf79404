// Hashes an upload as it arrives: with offload(url, { body: 'stream' }) req.body is the raw
// request body as a Node Readable, fed from the socket with backpressure, so a 1 GB upload never
// sits whole in memory — neither on the main thread nor here.
import { createHash } from 'node:crypto'

export default async function upload (req) {
  const hash = createHash('sha256')
  let bytes = 0
  for await (const chunk of req.body) {
    hash.update(chunk)
    bytes += chunk.length
  }
  return { bytes, sha256: hash.digest('hex') }
}
