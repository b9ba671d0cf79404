// Seeds and a seeded PRNG for the randomized fault tests (test/core/*-faults.test.js): the same
// seed gives the same mix of options and requests, so a failure printed with its seed replays.

/** A small seeded PRNG (mulberry32). */
export function random (seed) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (list) => list[Math.floor(next() * list.length)],
    /** One of `weights`' keys, with probability proportional to its weight. */
    weighted (weights) {
      const total = Object.values(weights).reduce((x, y) => x + y, 0)
      let r = next() * total
      for (const [key, weight] of Object.entries(weights)) if ((r -= weight) < 0) return key
      return Object.keys(weights)[0]
    }
  }
}

/** The seeds given in the environment variable `name` (comma-separated), or `rounds` fresh ones. */
export function seeds (name, rounds) {
  const given = process.env[name]
  if (given) return given.split(',').map(Number)
  const base = Date.now() % 1_000_000
  return Array.from({ length: rounds }, (_, i) => base + i * 7919)
}
