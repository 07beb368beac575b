/**
 * Which record log a cluster keeps when nodes that started apart meet: every node advertises
 * the log it is on, and every node moves to the best one it hears of. The order is total and
 * the same everywhere, so all nodes end on one log: the latest generation (a compaction moves
 * the cluster to a fresh log one generation on, see store/record-log.ts), then the one with
 * the most writers (an existing cluster beats a newcomer), then the longest, then the smallest
 * key. Two compactions started at once make two logs of one generation; this order picks one.
 */
import type { LogAdvert } from '../store/log-advert.ts'

export function better(a: LogAdvert, b: LogAdvert): boolean {
  if (a.key === b.key) return false
  if (a.generation !== b.generation) return a.generation > b.generation
  if (a.writers !== b.writers) return a.writers > b.writers
  if (a.length !== b.length) return a.length > b.length
  return a.key < b.key
}
