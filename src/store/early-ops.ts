/**
 * What peers wrote to a log this node is not on (yet), kept for a while: a peer that moved to
 * a new log first writes there while this node is still adopting it, and the log brings those
 * writes only seconds later. Seen in the soak: a dismissal written in that window was missing
 * on a follower, which took the dismissed download for a rival of the user's next request and
 * dismissed that one. log-moves.ts merges what is kept for a log when it moves there.
 */
import type { RecordOp } from './record.ts'

export class EarlyOps {
  private readonly byLog = new Map<string, { at: number; ops: RecordOp[] }[]>()
  private count = 0

  /** Keeps at most `maxOps` operations, none longer than `keepMs`. */
  constructor(private readonly o: { keepMs: number; maxOps: number }) {}

  keep(log: string, ops: RecordOp[], now: number): void {
    let batches = this.byLog.get(log)
    if (!batches) this.byLog.set(log, (batches = []))
    batches.push({ at: now, ops })
    this.count += ops.length
    for (const [key, list] of this.byLog) {
      while (list.length > 0 && (now - list[0]!.at > this.o.keepMs || this.count > this.o.maxOps))
        this.count -= list.shift()!.ops.length
      if (list.length === 0) this.byLog.delete(key)
    }
  }

  /** What was kept for this log, oldest first; forgotten here. */
  take(log: string): RecordOp[] {
    const ops = (this.byLog.get(log) ?? []).flatMap((b) => b.ops)
    this.byLog.delete(log)
    this.count -= ops.length
    return ops
  }
}
