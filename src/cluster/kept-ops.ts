/**
 * The receiving side of the records sent beside the log (record-broadcast.ts): peers'
 * operations merged here ahead of the log, kept until the log brings them, so that none is
 * only ever shown. A peer sends an operation as its write starts and confirms it once written
 * (sent-ops.ts); what is kept here is written by this node when:
 * - its sender is declared dead: what it sent in the last `keepMs` the log has not brought
 *   (written or not: a write the dead node made may never replicate);
 * - its sender gave the write up (a failed disk, a closed log);
 * - its sender never confirmed it within `keepMs` (it was killed and restarted before the
 *   cluster noticed: the new process has another session, and confirms nothing of the old).
 * A copy the log already holds changes nothing (the merge is idempotent), so a late write
 * costs an operation, never a record. Pure: time is passed in.
 */
import type { RecordOp } from '../store/record.ts'

interface Kept {
  key: string
  member: string
  at: number
  op: RecordOp
  /** The sender's session (one process run) and the operation's number in it. */
  session: string
  seq: number
  confirmed: boolean
}

export class KeptOps {
  /** By `opKey`, oldest first. */
  private readonly byKey = new Map<string, Kept>()
  /** Unconfirmed, by sender session, in the order they were numbered. */
  private readonly unconfirmed = new Map<string, Kept[]>()

  get size(): number {
    return this.byKey.size
  }

  /** A peer's operations, numbered from `firstSeq` in its session. */
  keep(member: string, session: string, firstSeq: number, ops: RecordOp[], now: number) {
    ops.forEach((op, i) => {
      const key = opKey(op)
      this.byKey.delete(key) // kept in arrival order, so the oldest are first
      const k: Kept = {
        key,
        member,
        at: now,
        op,
        session,
        seq: firstSeq + i,
        confirmed: false,
      }
      this.byKey.set(key, k)
      let list = this.unconfirmed.get(session)
      if (!list) this.unconfirmed.set(session, (list = []))
      list.push(k)
    })
  }

  /** A sender's write report: returns what it gave up on, for this node to write. */
  confirm(session: string, written: number, unwritten: number[]): RecordOp[] {
    const list = this.unconfirmed.get(session)
    if (!list) return []
    const failed = new Set(unwritten)
    const out: RecordOp[] = []
    for (const k of list) {
      if (failed.has(k.seq) && this.holds(k)) {
        this.byKey.delete(k.key)
        out.push(k.op)
      } else if (k.seq <= written) k.confirmed = true
    }
    const rest = list.filter((k) => !k.confirmed && this.holds(k))
    if (rest.length > 0) this.unconfirmed.set(session, rest)
    else this.unconfirmed.delete(session)
    return out
  }

  /** The log brought these: nothing is left to do for them. */
  landed(ops: RecordOp[]): void {
    if (this.byKey.size === 0) return
    for (const op of ops) this.byKey.delete(opKey(op))
  }

  /**
   * Drops what the log should have brought by now, and returns what was never confirmed in
   * `keepMs`, for this node to write.
   */
  expire(now: number, keepMs: number): RecordOp[] {
    const since = now - keepMs
    const out: RecordOp[] = []
    for (const [key, k] of this.byKey) {
      if (k.at >= since) break
      this.byKey.delete(key)
      if (!k.confirmed) out.push(k.op)
    }
    for (const [session, list] of this.unconfirmed) {
      const rest = list.filter((k) => this.holds(k))
      if (rest.length > 0) this.unconfirmed.set(session, rest)
      else this.unconfirmed.delete(session)
    }
    return out
  }

  /** A member was declared dead: what it sent since `since` that the log has not brought. */
  gone(member: string, since: number): RecordOp[] {
    const out: RecordOp[] = []
    for (const [key, k] of this.byKey) {
      if (k.member !== member) continue
      this.byKey.delete(key)
      if (k.at >= since) out.push(k.op)
    }
    return out
  }

  private holds(k: Kept): boolean {
    return this.byKey.get(k.key) === k
  }
}

/** Which write an operation is: the same key whether it came beside the log or through it. */
export function opKey(op: RecordOp): string {
  return op.type === 'put'
    ? `put ${op.download.id} ${op.download.epoch} ${op.download.version}`
    : `remove ${op.id}`
}
