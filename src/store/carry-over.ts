/**
 * What a node carries from the log it leaves to the log it moves to (record-log.ts): the
 * records it holds that the new log lacks, written there once it may. The new log is read
 * first as far as a peer said it went, so that a node following a compaction, whose new log
 * already holds nearly everything, writes only the few records that changed meanwhile, not its
 * whole table again.
 */
import type { RecordOp } from './record.ts'
import { missingFrom } from './record-table.ts'
import type { LogBase } from './log-base.ts'

/**
 * Appends to `base` what it lacks of `carried`, after reading it up to `length` (or, if that
 * takes longer than the timeout, everything: the merge rule makes a record carried twice
 * harmless). Rejects if this node does not become a writer of `base` within the timeout.
 */
export async function carryOver(
  base: LogBase,
  carried: RecordOp[],
  length: number,
  timeoutMs: number,
): Promise<number> {
  const seen = await base.viewTable(length, timeoutMs)
  const ops = seen ? missingFrom(seen, carried) : carried
  if (ops.length > 0) await base.append(ops, timeoutMs)
  return ops.length
}
