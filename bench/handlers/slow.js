// The slow route of the pools scenario: holds its thread 200 ms (a report render under a spike)
// without burning a core, so what the quick route meets is the pool's queue, not the CPU.
const cell = new Int32Array(new SharedArrayBuffer(4))

export default function slow () {
  Atomics.wait(cell, 0, 0, 200)
  return { slow: true }
}
