/**
 * Rendezvous (highest random weight) hashing: every node ranks the members for a key the same
 * way, from nothing but the key and the member ids. The first live member in a user's ranking
 * owns that user's worker; when it dies, the next one is its successor. Removing a member moves
 * only the keys it owned, and each member's share stays close to even.
 */
import { createHash } from 'node:crypto'

function weight(key: string, member: string): bigint {
  return createHash('sha256').update(key).update('\0').update(member).digest().readBigUInt64BE(0)
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
