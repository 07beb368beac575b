/**
 * What a node carries from the log it leaves to the log it moves to (log-moves.ts): the
 * records it holds that the new log lacks, written there once it may. The new log is read
 * first as far as a peer said it went, so that a node following a compaction, whose new log
 * already holds nearly everything, writes only the few records that changed meanwhile, not its
 * whole table again.
 */
import type { RecordOp } from './record.ts'
import { missingFrom } from './record-table.ts'
import type { LogBase } from './log-base.ts'
import { delay, type Clock } from '../clock.ts'

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

/** What carrying until it lands asks of the moves of the log it belongs to (log-moves.ts). */
export interface CarryTurns {
  /** Resolves once no move is under way (a reopen of the same base included). */
  idle(): Promise<void>
  /** Whether the move the carry belongs to is still the last, on a log neither closing nor broken. */
  current(): boolean
  /** The base to carry to now. */
  base(): LogBase
  /** Whether `base` was closed under the carry to be opened again (a reopen, queued). */
  reopening(base: LogBase): boolean
  /** Once it has landed: moves the pointer to the base (a failure is tried again). */
  landed(): Promise<void>
}

/**
 * Carries `carried` to the base of a move until it lands there and the pointer says so; tries
 * again after `retryMs` while it cannot, and ends once another move has begun. A reopen of the
 * same base is not another move: the carry writes on the base opened again what the instance
 * closed under it had not written.
 */
export async function carryUntilLanded(
  turns: CarryTurns,
  carried: RecordOp[],
  length: number,
  o: { timeoutMs: number; retryMs: number; clock: Clock; onError: (err: Error) => void },
): Promise<void> {
  for (;;) {
    await turns.idle()
    if (!turns.current()) return
    const base = turns.base()
    try {
      await carryOver(base, carried, length, o.timeoutMs)
      return await turns.landed()
    } catch (err) {
      if (!turns.current()) return
      // Closed under the carry for a reopen, which is queued: the next turn waits for it.
      if (turns.reopening(base)) continue
      o.onError(new Error(`could not carry records to the log: ${(err as Error).message}`))
      await delay(o.clock, o.retryMs)
    }
  }
}
