/**
 * Which record log a cluster keeps when nodes that started apart meet: every node advertises
 * the log it is on, and every node moves to the best one it hears of. The order is total and
 * the same everywhere, so all nodes end on one log: the one with the most writers (an existing
 * cluster beats a newcomer), then the longest, then the smallest key.
 */

export interface LogAdvert {
  /** Hex key of the autobase. */
  key: string
  writers: number
  length: number
  /** Hex key of the advertiser's local writer on that log. */
  writer: string
  writable: boolean
}

export function better(a: LogAdvert, b: LogAdvert): boolean {
  if (a.key === b.key) return false
  if (a.writers !== b.writers) return a.writers > b.writers
  if (a.length !== b.length) return a.length > b.length
  return a.key < b.key
}

const HEX64 = /^[0-9a-f]{64}$/

export function parseAdvert(v: unknown): LogAdvert | null {
  if (typeof v !== 'object' || v === null) return null
  const o = v as Record<string, unknown>
  if (
    typeof o.key !== 'string' ||
    !HEX64.test(o.key) ||
    typeof o.writer !== 'string' ||
    !HEX64.test(o.writer) ||
    typeof o.writers !== 'number' ||
    !Number.isSafeInteger(o.writers) ||
    typeof o.length !== 'number' ||
    !Number.isSafeInteger(o.length) ||
    typeof o.writable !== 'boolean'
  ) {
    return null
  }
  return {
    key: o.key,
    writers: o.writers,
    length: o.length,
    writer: o.writer,
    writable: o.writable,
  }
}
