/**
 * Writing an operation to the log this node is on, whichever base that is by the time the write
 * lands (record-log.ts moves it between bases): merged here and told to peers as its write
 * starts, handed to the cluster's scribe when there is one, and written again on the base this
 * node is on now when the one it went to closed under it. See DESIGN.md, "Records beside the
 * log" and "One scribe".
 */
import type { RecordOp } from './record.ts'
import { BaseClosedError, type LogBase } from './log-base.ts'

/**
 * Asks another node to write an operation to the base `key` (hex) for this one: resolves true
 * once it did, false if it did not (this node then writes it). Null: no one is asked.
 */
/** How `append` goes (LogWriter.append). */
export interface AppendOptions {
  /** Written by this node, not handed to a scribe. */
  here?: boolean
  /** What the returned promise waits for. @default 'written' */
  until?: 'written' | 'merged'
  /** Called as the operation merges into this node's table. */
  onMerged?: () => void
}

export type Scribe = (key: string, op: RecordOp) => Promise<boolean> | null

/** What a write needs of the record log it writes to (log-moves.ts). */
export interface WriterSeat {
  /** Resolves once no move to another base, nor a reopen, is under way. */
  afterMoves(): Promise<void>
  /** The base this node is on now. */
  base(): LogBase
  closing(): boolean
  /** Why every write is refused now (a base that could not be opened again), or null. */
  broken(): Error | null
  /** Whether a move or a reopen is under way: this node then writes nothing for peers. */
  moving(): boolean
  /** Whether `base` was closed because its update stalled: a write that failed there goes on. */
  abandoned(base: LogBase): boolean
}

/** What a write tells, as it goes (record-log.ts emits each as its event of the same name). */
export interface WriteTelling {
  /** It starts, on the base `key` (hex): merged here, and peers may be told. */
  writing(key: string, op: RecordOp): void
  written(key: string, op: RecordOp): void
  /** It started ('writing') and failed for good. */
  unwritten(op: RecordOp): void
}

export interface LogWriterOptions {
  /** How long an append waits for this node to be made a writer before it is refused. */
  writableTimeoutMs: number
  tell: WriteTelling
  onError: (err: Error) => void
}

export class LogWriter {
  /** Hands an operation to the cluster's scribe (`handTo`), or says to write it here. */
  private scribe: Scribe | null = null

  constructor(
    private readonly seat: WriterSeat,
    private readonly o: LogWriterOptions,
  ) {}

  /**
   * Appends an operation and resolves once it is written. An operation the base closed on
   * before writing it (this node moved meanwhile) goes to the new base. When this node is a
   * writer already, the operation is merged into the table as its write starts, and peers are
   * told then ('writing'), so that neither waits for the group commit's window; whether the
   * write ended is told after ('written', 'unwritten'): cluster/record-broadcast.ts. One whose
   * write fails for good stays merged here: its peers write it (kept-ops.ts), and a write that
   * does not reach the disk closes the whole base, which the node opens again from the log.
   * With a scribe (`handTo`), it is asked to write the operation once it is told; this node
   * writes it only if the scribe does not, or with `here`.
   *
   * `until: 'merged'` resolves once the operation is merged here (as its write starts, when this
   * node is a writer) and lets the write go on: what a page does next waits for what it sees,
   * not for the group commit's window (a dismissal, then the next request, on one socket). A
   * write that then fails for good is left to the peers, as any other, and logged here.
   * `onMerged` is called as the operation merges here, whatever `until` says.
   */
  append(op: RecordOp, o: AppendOptions = {}): Promise<void> {
    if (o.until !== 'merged') return this.write(op, o.here === true, o.onMerged)
    return new Promise((resolve, reject) => {
      let merged = false
      const onMerged = () => {
        merged = true
        o.onMerged?.()
        resolve()
      }
      this.write(op, o.here === true, onMerged).then(resolve, (err: Error) => {
        if (!merged) return reject(err)
        if (!this.seat.closing())
          this.o.onError(new Error(`a merged operation was not written here: ${err.message}`))
      })
    })
  }

  private async write(op: RecordOp, here: boolean, onMerged?: () => void): Promise<void> {
    let told = false
    let asked = here
    const tell = (key: string) => {
      if (told) return
      told = true
      this.seat.base().merge([op])
      this.o.tell.writing(key, op)
      onMerged?.()
    }
    for (;;) {
      await this.seat.afterMoves()
      // Checked at every turn: a write that goes on only once its base is replaced must end
      // when none will be (a loop of rejections alone would starve the event loop).
      const refused =
        this.seat.broken() ?? (this.seat.closing() ? new Error('The record log is closed.') : null)
      if (refused) {
        if (told) this.o.tell.unwritten(op)
        throw refused
      }
      const base = this.seat.base()
      const key = base.key.toString('hex')
      if (base.writable) tell(key)
      // Once: a scribe that did not write it (gone, moved, failed) leaves it to this node.
      const handed = told && !asked ? this.scribe?.(key, op) : null
      if (handed) {
        asked = true
        if (await handed) return void this.o.tell.written(key, op)
        continue
      }
      try {
        await base.append([op], this.o.writableTimeoutMs)
        tell(key)
        this.o.tell.written(key, op)
        return
      } catch (err) {
        // A base closed under this write: written to the one this node is on now. One closed
        // because it stalled may have failed the write with any error: what autobase waited
        // for was cancelled.
        const moved = err instanceof BaseClosedError && base !== this.seat.base()
        if ((moved || this.seat.abandoned(base)) && !this.seat.closing()) continue
        if (told) this.o.tell.unwritten(op)
        throw err
      }
    }
  }

  /**
   * One scribe writes the log for the cluster (cluster/scribe.ts): from now on `append` asks
   * `scribe` to write each operation once it is merged here and its peers are told, and
   * writes it here only if no one is asked or the one asked did not write it.
   */
  handTo(scribe: Scribe): void {
    this.scribe = scribe
  }

  /**
   * Writes operations a peer asked this node to write for it, to the base `key` (hex), which
   * they are already merged into (`mergeEarly`). False, and nothing written, if this node is
   * not a writer of that base now, or the write failed: the peer then writes them itself.
   */
  async writeFor(key: string, ops: RecordOp[]): Promise<boolean> {
    const base = this.seat.base()
    if (this.seat.closing() || this.seat.moving() || !base?.writable) return false
    if (base.key.toString('hex') !== key) return false
    try {
      // Answered once written: reading it back is this node's business, not the peer's.
      await base.append(ops, 0, { readBack: false })
      return true
    } catch {
      return false
    }
  }
}
