/**
 * What a node says about the record log it is on: enough for the others to pick one log for
 * the whole cluster (see cluster/log-election.ts) and to see who still waits to be a writer.
 */

export interface LogAdvert {
  /** Hex key of the autobase. */
  key: string
  writers: number
  length: number
  /** Hex key of the advertiser's local writer on that log. */
  writer: string
  writable: boolean
  /**
   * How many times the cluster's log has been compacted into a fresh one (store/record-log.ts).
   * A later generation beats any earlier one. Peers of an older version send none: 0.
   */
  generation: number
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
    typeof o.writable !== 'boolean' ||
    (o.generation !== undefined &&
      (typeof o.generation !== 'number' || !Number.isSafeInteger(o.generation) || o.generation < 0))
  ) {
    return null
  }
  return {
    key: o.key,
    writers: o.writers,
    length: o.length,
    writer: o.writer,
    writable: o.writable,
    generation: (o.generation as number | undefined) ?? 0,
  }
}
