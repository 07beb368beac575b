/**
 * Which record log a cluster keeps when nodes that started apart meet: every node advertises
 * the log it is on, and every node moves to the best one it hears of. The order is total and
 * the same everywhere, so all nodes end on one log: the one with the most writers (an existing
 * cluster beats a newcomer), then the longest, then the smallest key.
 */
import type { LogAdvert } from '../store/log-advert.ts'

export function better(a: LogAdvert, b: LogAdvert): boolean {
  if (a.key === b.key) return false
  if (a.writers !== b.writers) return a.writers > b.writers
  if (a.length !== b.length) return a.length > b.length
  return a.key < b.key
}
