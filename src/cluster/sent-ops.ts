/**
 * The sending side of the records sent beside the log (record-broadcast.ts): each operation
 * is numbered as it goes out, before its write to this node's log has finished, and peers are
 * told how far the writes got, as a watermark: every operation numbered up to it was written,
 * or given up on (then named in `unwritten`). A peer writes what a sender never confirmed
 * (kept-ops.ts), so an operation shown early is never shown only. A write that has not ended
 * after `giveUpMs` is given up on as far as peers know (they write a copy), so that one stuck
 * write does not hold the watermark, and every write after it, unconfirmed.
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
  private readonly pending = new Map<RecordOp, { seq: number; at: number }>()
  private unwritten: number[] = []
  private told = 0

  constructor(private readonly giveUpMs: number) {}

  /** Writes still under way. */
  get size(): number {
    return this.pending.size
  }

  /** Numbers an operation about to be sent. An operation already numbered keeps its number. */
  number(op: RecordOp, now: number): number {
    const known = this.pending.get(op)
    if (known !== undefined) return known.seq
    const seq = this.next++
    this.pending.set(op, { seq, at: now })
    return seq
  }

  /** Its write finished: it is in this node's log. */
  written(op: RecordOp): void {
    this.pending.delete(op)
  }

  /** Its write failed for good: peers that hold it are to write it themselves. */
  failed(op: RecordOp): void {
    const sent = this.pending.get(op)
    if (sent === undefined) return
    this.pending.delete(op)
    this.unwritten.push(sent.seq)
  }

  /** How far the writes got since the last report, or null when nothing changed. */
  report(now: number): WriteReport | null {
    for (const [op, sent] of this.pending) {
      if (now - sent.at < this.giveUpMs) break
      this.failed(op)
    }
    const first = this.pending.values().next()
    const written = first.done ? this.next - 1 : first.value.seq - 1
    if (written === this.told && this.unwritten.length === 0) return null
    this.told = written
    const unwritten = this.unwritten
    this.unwritten = []
    return { written, unwritten }
  }
}
