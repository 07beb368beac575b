/**
 * One scribe writes the log for the cluster. Autobase's work is per block and per writer:
 * every node verifies, linearises, applies and stores each block of every writer, and blocks
 * of several writers that arrive out of order make it truncate its view and apply the tail
 * again. So rather than every node writing its own operations, each hands them to one member,
 * the scribe, in the `records` message it sends its peers anyway (record-broadcast.ts), and
 * the scribe writes them in its own batches. See DESIGN.md, "One scribe".
 *
 * This file holds the choice of the scribe and what a node asked one to write: pure, time
 * passed in.
 */
import type { RecordOp } from '../store/record.ts'
import { opKey } from './kept-ops.ts'

/** A member that could write for the cluster: on this node's log, and a writer of it. */
export interface ScribeCandidate {
  id: string
  writable: boolean
  /** Its disk is low (its last beat said so, cluster.ts `takesWork`). */
  full?: boolean
}

/**
 * The scribe: the writable candidate with the smallest id, this node included, passing over
 * those whose disk is low while one has room (the scribe's store holds every block it writes,
 * and the log's growth should go to a disk that can take it; a low node asked to write would
 * also fail the writes it was handed). Null when that is this node (it writes its own), or
 * when no one is writable. Nodes that disagree for a moment (one has not heard an advert or a
 * beat yet) only write in two places, as every node did before.
 */
export function chooseScribe(
  self: ScribeCandidate,
  peers: readonly ScribeCandidate[],
): string | null {
  const writable = [self, ...peers].filter((c) => c.writable)
  const roomy = writable.filter((c) => !c.full)
  let best: string | null = null
  for (const c of roomy.length > 0 ? roomy : writable) if (best === null || c.id < best) best = c.id
  return best === self.id ? null : best
}

interface Asked {
  op: RecordOp
  key: string
  scribe: string
  at: number
  /** This node's log brought it before the scribe answered: nothing left to watch. */
  landed: boolean
  /** True: the scribe wrote it. False: it did not, or is gone; this node writes it. */
  settle: (written: boolean) => void
}

interface Handed {
  op: RecordOp
  scribe: string
  at: number
}

/**
 * What this node asked a scribe to write, numbered as its `records` messages number them
 * (sent-ops.ts): waiting for the scribe's answer, then, once written, until this node's own
 * log brings it. A scribe that dies after writing an operation may die before its core
 * replicated; what it wrote for this node and this node's log lacks is then written again.
 */
export class DelegatedOps {
  private readonly asked = new Map<number, Asked>()
  /** The same, by `opKey`, for `landed`. */
  private readonly askedByKey = new Map<string, Asked>()
  /** Written by a scribe, not yet read from this node's log: by `opKey`, oldest first. */
  private readonly handed = new Map<string, Handed>()

  get size(): number {
    return this.asked.size + this.handed.size
  }

  /** Asks `scribe` to write `op` (number `seq`): resolves true once written, false if not. */
  ask(seq: number, op: RecordOp, scribe: string, now: number): Promise<boolean> {
    return new Promise((settle) => {
      const a: Asked = { op, key: opKey(op), scribe, at: now, landed: false, settle }
      this.asked.set(seq, a)
      this.askedByKey.set(a.key, a)
    })
  }

  private settle(seq: number, a: Asked, written: boolean): void {
    this.asked.delete(seq)
    if (this.askedByKey.get(a.key) === a) this.askedByKey.delete(a.key)
    a.settle(written)
  }

  /** The scribe's answer for the operations numbered `seq` to `seq + count - 1`. */
  answered(scribe: string, seq: number, count: number, written: boolean, now: number): void {
    for (let n = seq; n < seq + count; n++) {
      const a = this.asked.get(n)
      if (!a || a.scribe !== scribe) continue
      if (written && !a.landed) {
        this.handed.delete(a.key) // kept in answer order, so the oldest are first
        this.handed.set(a.key, { op: a.op, scribe, at: now })
      }
      this.settle(n, a, written)
    }
  }

  /** This node's log brought these. */
  landed(ops: readonly RecordOp[]): void {
    if (this.handed.size === 0 && this.askedByKey.size === 0) return
    for (const op of ops) {
      const key = opKey(op)
      this.handed.delete(key)
      const a = this.askedByKey.get(key)
      if (a) a.landed = true
    }
  }

  /**
   * The scribe is gone (declared dead, or its link closed): what it was asked is refused (its
   * callers write it themselves), and what it wrote that this node's log has not brought is
   * returned, to be written again.
   */
  gone(scribe: string): RecordOp[] {
    for (const [seq, a] of this.asked) if (a.scribe === scribe) this.settle(seq, a, false)
    const out: RecordOp[] = []
    for (const [key, h] of this.handed) {
      if (h.scribe !== scribe) continue
      this.handed.delete(key)
      out.push(h.op)
    }
    return out
  }

  /**
   * Refuses what waited longer than `answerMs` for an answer, and returns what was written
   * more than `landMs` ago and still has not come through this node's log, to be written again.
   */
  expire(now: number, answerMs: number, landMs: number): RecordOp[] {
    // Asked in time order, so the overdue ones are first.
    for (const [seq, a] of this.asked) {
      if (now - a.at < answerMs) break
      this.settle(seq, a, false)
    }
    const out: RecordOp[] = []
    for (const [key, h] of this.handed) {
      if (now - h.at < landMs) break
      this.handed.delete(key)
      out.push(h.op)
    }
    return out
  }

  /** Everything still waiting is refused (the node stops). */
  clear(): void {
    for (const [seq, a] of this.asked) this.settle(seq, a, false)
    this.handed.clear()
  }
}
