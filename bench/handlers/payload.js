// Realistic JSON answers (issue 21, point 2): an array of customer records of about 1 KB
// (`?size=1k`) or 100 KB (`?size=100k`) once serialized, as a listing endpoint returns them. Built
// once per thread (what is measured is answering with them, not making them). Same module for
// the inline route, fastify-mpm, tinypool and piscina; it reads only `query`.
const record = (i) => ({
  id: i,
  name: `Customer ${i}`,
  email: `customer${i}@example.com`,
  active: i % 3 !== 0,
  balance: Math.round(i * 12345.67) / 100,
  tags: ['retail', i % 2 === 0 ? 'eu' : 'us'],
  address: { street: `${i} Main Street`, city: 'Springfield', zip: String(10000 + i) },
  createdAt: new Date(Date.UTC(2026, 0, 1 + (i % 28))).toISOString()
})

function recordsOf (bytes) {
  const list = []
  while (JSON.stringify(list).length < bytes) list.push(record(list.length))
  return list
}

const SIZES = { '1k': recordsOf(1024), '100k': recordsOf(100 * 1024) }

export default function payload ({ query }) {
  return SIZES[query?.size] ?? SIZES['1k']
}
