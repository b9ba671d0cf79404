// Fastify's internal fields that fastify-mpm reads (a route's context, its payload stream, a
// reply's serializer), found by their symbols' descriptions: Fastify exports none of them. Each
// is looked up once, on the object or its prototypes (Reply keeps some on its prototype), and
// remembered, a miss included, so a Fastify release that renames one costs no per-request search:
// the feature that needs it then stays off, and its test fails loudly.

const found = new Map<string, symbol | undefined>()

export type Internal = Record<symbol, unknown>

export function fastifySymbol (object: object, description: string): symbol | undefined {
  if (found.has(description)) return found.get(description)
  let symbol: symbol | undefined
  for (let o: object | null = object; o !== null && symbol === undefined; o = Object.getPrototypeOf(o)) {
    symbol = Object.getOwnPropertySymbols(o).find((s) => s.description === description)
  }
  found.set(description, symbol)
  return symbol
}
