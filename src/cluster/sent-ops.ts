/**
 * The sending side of the records sent beside the log (record-broadcast.ts): each operation
 * is numbered as it goes out, before its write to this node's log has finished, and peers are
 * told how far the writes got, as a watermark: every operation numbered up to it was written,
 * or given up on (then named in `unwritten`). A peer writes what a sender never confirmed
 * (kept-ops.ts), so an operation shown early is never shown only.
 */
import type { RecordOp } from '../store/record.ts'

export interface WriteReport {
  /** Every operation numbered up to this one was written, or is named in `unwritten`. */
  written: number
  /** Operations whose write failed for good since the last report, by number. */
  unwritten: number[]
}

export class SentOps {
  private next = 1
  /** Sent and not yet written, in the order they were numbered. */
  private readonly pending = new Map<RecordOp, number>()
  private unwritten: number[] = []
  private told = 0

  /** Numbers an operation about to be sent. An operation already numbered keeps its number. */
  number(op: RecordOp): number {
    const known = this.pending.get(op)
    if (known !== undefined) return known
    const seq = this.next++
    this.pending.set(op, seq)
    return seq
  }

  /** Its write finished: it is in this node's log. */
  written(op: RecordOp): void {
    this.pending.delete(op)
  }

  /** Its write failed for good: peers that hold it are to write it themselves. */
  failed(op: RecordOp): void {
    const seq = this.pending.get(op)
    if (seq === undefined) return
    this.pending.delete(op)
    this.unwritten.push(seq)
  }

  /** How far the writes got since the last report, or null when nothing changed. */
  report(): WriteReport | null {
    const first = this.pending.values().next()
    const written = first.done ? this.next - 1 : first.value - 1
    if (written === this.told && this.unwritten.length === 0) return null
    this.told = written
    const unwritten = this.unwritten
    this.unwritten = []
    return { written, unwritten }
  }
}
