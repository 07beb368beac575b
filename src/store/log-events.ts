/**
 * What the record log tells (record-log.ts): its own events, and those of the base it is on
 * (log-base.ts) and of its moves (log-moves.ts), which emit them on its behalf.
 */
import type { RecordOp } from './record.ts'
import type { LogPointer } from './log-pointer.ts'

export interface RecordLogEvents {
  /** Records were merged; the argument holds the ids they touched. */
  change: [ids: Set<string>]
  /** The advert changed: another log was adopted, this node became writable, a writer joined. */
  advert: []
  /**
   * The log this node is on failed for good (log-base.ts, `onFailed`): writes no longer land,
   * and only opening the store again recovers (node-runner.ts).
   */
  failed: [err: Error]
  /**
   * This node is on another base for good: what it carried landed there and the pointer says
   * so. The cores of the bases it left may now be deleted (core-sweep.ts).
   */
  settled: [pointer: LogPointer]
  /** This node starts writing an operation to the base `key` (hex): peers may be told. */
  writing: [key: string, op: RecordOp]
  /** This node wrote an operation to the base `key` (hex). */
  written: [key: string, op: RecordOp]
  /** A write that started ('writing') failed for good. */
  unwritten: [op: RecordOp]
  /** Record operations read from the log this node is on. */
  landed: [ops: RecordOp[]]
  /** Autobase fast-forwarded the log this node is on (log-base.ts). */
  'fast-forward': [to: number, from: number]
  /**
   * This node adopts again the base `key` (hex) after its sweep deleted its writer there, and
   * writes under a new one: the old one, if an indexer, stays silent until the next compaction.
   */
  'writer-renewed': [key: string]
  /**
   * The update of the base `key` (hex) stopped for good (apply-watch.ts): this node closes it
   * and opens it again, which starts its update afresh.
   */
  stalled: [key: string, err: Error]
  /** The base `key` (hex) was opened again after it stalled. */
  reopened: [key: string]
}
