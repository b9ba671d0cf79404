// A quick JSON transform: the kind of route a slow neighbour must not starve.
export default function price (req) {
  const qty = Math.max(1, Math.min(Number(req.query.qty ?? 1) || 1, 1000))
  return { qty, unit: 4.2, total: Math.round(qty * 4.2 * 100) / 100 }
}
