/**
 * Follows one autobase view forward into a record table. Autobase may truncate the view's
 * unsigned tail and apply it again in another order; the reader then moves its cursor back
 * and reads the new tail (the merge is idempotent, so reading a block twice is harmless).
 *
 * A block can be counted in the view's length a moment before it can be read here (seen after
 * a restart that followed a SIGKILL); a read that waited for it asks peers and, with none to
 * answer, never returns, stopping every write behind it. And a block of a fast-forwarded view
 * may be held only by peers. So the reader reads what is local with `wait: false`, again and
 * again shortly, while one bounded request asks peers for the block.
 */
import type Hypercore from 'hypercore'
import type { RecordOp } from './record.ts'
import { opsOf } from './op-pack.ts'
import { applyOp, createTable, type RecordTable } from './record-table.ts'
import { isWriterOp } from './writer-admission.ts'
import { delay, type Clock } from '../clock.ts'

export interface ReadResult {
  /** Ids of the records the new operations touched. */
  touched: Set<string>
  /** A writer was admitted. */
  writersChanged: boolean
  /** The record operations read, in the view's order. */
  ops: RecordOp[]
}

export interface ViewReaderOptions {
  view: Hypercore
  table: RecordTable
  clock: Clock
  onRead: (result: ReadResult) => void
  /** Told once per block that stays unreadable this long, then again when it is read. */
  onSlow?: (event: { index: number; length: number; waitedMs: number; done: boolean }) => void
  /** @default 5000 */
  slowAfterMs?: number
}

/** First and longest wait before a block not readable yet is tried again. */
const RETRY_FIRST_MS = 5
const RETRY_MAX_MS = 200
/** How long one request to peers for a block of the view may wait. */
const FETCH_TIMEOUT_MS = 2000

export class ViewReader {
  /** Keys of the writers admitted by the view's operations (the creator is not among them). */
  readonly writers = new Set<string>()
  private readOnce = false
  readonly table: RecordTable
  private readonly view: Hypercore
  private readonly clock: Clock
  private cursor = 0
  /** How many record operations the blocks before each index hold (prefix sums). */
  private opsBefore: number[] = [0]
  /** The most operations read before a truncation: autobase re-applies the same ones after. */
  private opsReadBefore = 0
  private reading: Promise<void> = Promise.resolve()
  /** Since when a block has been counted but not readable; null while none is. */
  private waitingSince: number | null = null
  private closed = false

  constructor(private readonly o: ViewReaderOptions) {
    this.view = o.view
    this.table = o.table
    this.clock = o.clock
    this.view.on('truncate', (to: number) => {
      if (to < this.cursor) {
        this.opsReadBefore = Math.max(this.opsReadBefore, this.ops)
        this.cursor = to
        this.opsBefore.length = to + 1
      }
    })
  }

  /** How many blocks of the view have been read into the table. */
  get position(): number {
    return this.cursor
  }

  /**
   * Whether the table has once read the whole view as it was: from then on it follows the view
   * as it grows, a block or two behind at most, so a compaction may take it (log-base.ts).
   */
  get caughtUpOnce(): boolean {
    return this.readOnce
  }

  /**
   * How many record operations those blocks hold (a block may hold several: op-pack.ts). A
   * truncation does not lower it: autobase truncates the view to apply its tail again in
   * another order, the same operations, and a node re-reading 500 of them would otherwise say
   * for a second that its log holds 100 (seen after a burst).
   */
  get ops(): number {
    return Math.max(this.opsReadBefore, this.opsBefore[this.cursor] ?? 0)
  }

  /**
   * The table the view alone makes, without what was merged from elsewhere (carried records):
   * the blocks read so far, folded again from the start. They are local, so this waits on
   * nothing but the disk.
   */
  async foldRead(): Promise<RecordTable> {
    const table = createTable()
    for (let i = 0; i < this.cursor && !this.closed; i++) {
      const value: unknown = await this.view.get(i, { wait: false })
      if (value === null || isWriterOp(value)) continue
      for (const op of opsOf(value)) applyOp(table, op)
    }
    return table
  }

  /** How long the reader has been waiting for a block it cannot read yet (0 if it is not). */
  stalledMs(): number {
    return this.waitingSince === null ? 0 : this.clock.now() - this.waitingSince
  }

  /**
   * Reads the view up to its current length. Calls are serialised, and one failed read does
   * not fail every later one: the next call starts again from the cursor.
   */
  catchUp(): Promise<void> {
    const run = this.reading.catch(() => {}).then(() => this.readForward())
    this.reading = run
    return run
  }

  /**
   * Catches up, or stops waiting once one block has been unreadable here for `stallMs`: the
   * read goes on behind (its failure told to `onError`). 'read' when all was read, 'behind'
   * when not. For opening a log: a view fast-forwarded before its blocks were fetched holds
   * blocks only peers have, and a node meets its peers only once it has opened its log.
   */
  async catchUpUnlessStalled(
    stallMs: number,
    onError: (err: Error) => void,
  ): Promise<'read' | 'behind'> {
    const read = this.catchUp()
    let done = false
    const settled = read.then(
      () => (done = true),
      () => (done = true),
    )
    while (!done) {
      await Promise.race([settled, delay(this.clock, 100)])
      if (!done && this.stalledMs() >= stallMs) {
        read.catch(onError)
        return 'behind'
      }
    }
    await read
    return 'read'
  }

  private async readForward(): Promise<void> {
    const touched = new Set<string>()
    const ops: RecordOp[] = []
    let writersChanged = false
    while (!this.closed && this.cursor < this.view.length) {
      const at = this.cursor
      const read = await this.readLocal(at)
      if (!read) continue // closed, or truncated below it: the loop looks again
      const { value } = read
      const writer = isWriterOp(value)
      const got = writer ? [] : opsOf(value)
      // A truncation while awaiting moves the cursor back; the block read is still valid.
      if (this.cursor === at) {
        this.cursor = at + 1
        this.opsBefore[at + 1] = this.opsBefore[at]! + got.length
      }
      if (writer) {
        if (!this.writers.has(value.key)) writersChanged = true
        this.writers.add(value.key)
        continue
      }
      for (const op of got) {
        const id = applyOp(this.table, op)
        if (id !== null) touched.add(id)
        ops.push(op)
      }
    }
    if (!this.closed) this.readOnce = true
    if (ops.length > 0 || writersChanged) this.o.onRead({ touched, writersChanged, ops })
  }

  /** The block at `index` once it can be read here; null if closed or truncated below it. */
  private async readLocal(index: number): Promise<{ value: unknown } | null> {
    let waitMs = RETRY_FIRST_MS
    let told = false
    let fetching: { got: Promise<unknown>; settled: boolean } | null = null
    for (;;) {
      const value = await this.view.get(index, { wait: false })
      if (value !== null) return this.found(index, value, told)
      if (this.closed || index >= this.view.length) {
        this.waitingSince = null
        return null
      }
      this.waitingSince ??= this.clock.now()
      if (!told && this.stalledMs() >= (this.o.slowAfterMs ?? 5000)) {
        told = true
        this.slow(index, false)
      }
      // A fast-forwarded view holds blocks only peers have: ask them, one request at a time,
      // and never wait on that alone (with no peer to answer it would never return).
      if (!fetching) {
        const f: { got: Promise<unknown>; settled: boolean } = {
          got: Promise.resolve(),
          settled: false,
        }
        f.got = this.view
          .get(index, { timeout: FETCH_TIMEOUT_MS })
          .then(
            (v) => v,
            () => null,
          )
          .finally(() => (f.settled = true))
        fetching = f
      }
      const pause = delay(this.clock, waitMs)
      const got = await Promise.race([fetching.got, pause.then(() => null)])
      if (got !== null && got !== undefined) return this.found(index, got, told)
      // A fetch that failed (no peer yet, a timeout, a session autobase moved) is asked again,
      // after the pause: not before, or this loop would be one of settled promises only, which
      // holds the event loop and a core for good. It was: the check of whether the fetch had
      // settled always said no, so a fetch failed once was raced again and again (a tester's
      // node, restarted on a view fast-forwarded before its blocks came, answered nothing,
      // logged nothing and ignored SIGTERM).
      if (fetching.settled) {
        fetching = null
        await pause
      }
      waitMs = Math.min(RETRY_MAX_MS, waitMs * 2)
    }
  }

  private found(index: number, value: unknown, told: boolean): { value: unknown } {
    if (told) this.slow(index, true)
    this.waitingSince = null
    return { value }
  }

  private slow(index: number, done: boolean): void {
    this.o.onSlow?.({ index, length: this.view.length, waitedMs: this.stalledMs(), done })
  }

  /** Stops reading; resolves once a read in progress has ended. */
  async close(): Promise<void> {
    this.closed = true
    await this.reading.catch(() => {})
  }
}
