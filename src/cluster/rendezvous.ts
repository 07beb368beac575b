/**
 * Rendezvous (highest random weight) hashing: every node ranks the members for a key the same
 * way, from nothing but the key and the member ids. The first live member in a user's ranking
 * owns that user's worker; when it dies, the next one is its successor. Removing a member moves
 * only the keys it owned, and each member's share stays close to even.
 */
import { createHash } from 'node:crypto'

/**
 * Weights computed lately. A download asks for its user's ranking a score of times across the
 * cluster (its owner, its successors, its file's keeper, at every tick and change) and each
 * asks for the same few members: a hash each time cost more than the rest of the ranking.
 * Bounded (oldest out first), and a weight never changes, so a cached one is never wrong.
 */
const weights = new Map<string, bigint>()
const WEIGHTS_KEPT = 20_000

function weight(key: string, member: string): bigint {
  const at = `${key}\0${member}`
  let w = weights.get(at)
  if (w !== undefined) return w
  w = createHash('sha256').update(at).digest().readBigUInt64BE(0)
  if (weights.size >= WEIGHTS_KEPT) weights.delete(weights.keys().next().value!)
  weights.set(at, w)
  return w
}

/** Member ids ordered from the most to the least preferred owner of `key`. */
export function rank(key: string, members: readonly string[]): string[] {
  return [...new Set(members)]
    .map((id) => ({ id, w: weight(key, id) }))
    .sort((a, b) => (a.w === b.w ? (a.id < b.id ? -1 : 1) : a.w > b.w ? -1 : 1))
    .map((x) => x.id)
}

/** The owner of `key` among `members`, or null when there are none. */
export function owner(key: string, members: readonly string[]): string | null {
  let best: string | null = null
  let bestWeight = -1n
  for (const id of members) {
    const w = weight(key, id)
    if (w > bestWeight || (w === bestWeight && best !== null && id < best)) {
      best = id
      bestWeight = w
    }
  }
  return best
}
