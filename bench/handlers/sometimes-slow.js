// A short route that is sometimes slow: every 50th request a thread runs (counted per thread,
// as each pool's threads see them) busy-loops 200 ms; the rest return at once. The slow answer
// is longer, so the load generator can tell fast requests' latencies from slow ones by size.
let n = 0

export default function sometimesSlow () {
  if (++n % 50 !== 0) return { hello: 'world' }
  const end = performance.now() + 200
  while (performance.now() < end) { /* the slow one */ }
  return { hello: 'world', slow: 'this one took 200 ms' }
}
