/**
 * Follows one autobase view forward into a record table. Autobase may truncate the view's
 * unsigned tail and apply it again in another order; the reader then moves its cursor back
 * and reads the new tail (the merge is idempotent, so reading a block twice is harmless).
 */
import type Hypercore from 'hypercore'
import { parseOp } from './record.ts'
import { applyOp, type RecordTable } from './record-table.ts'
import { isWriterOp } from './writer-admission.ts'

export interface ReadResult {
  /** Ids of the records the new operations touched. */
  touched: Set<string>
  /** A writer was admitted. */
  writersChanged: boolean
}

export class ViewReader {
  /** Keys of the writers admitted by the view's operations (the creator is not among them). */
  readonly writers = new Set<string>()
  private cursor = 0
  private reading: Promise<void> = Promise.resolve()
  private closed = false

  constructor(
    private readonly view: Hypercore,
    readonly table: RecordTable,
    private readonly onRead: (result: ReadResult) => void,
  ) {
    view.on('truncate', (to: number) => {
      if (to < this.cursor) this.cursor = to
    })
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

  private async readForward(): Promise<void> {
    const touched = new Set<string>()
    let writersChanged = false
    while (!this.closed && this.cursor < this.view.length) {
      const at = this.cursor
      const value = await this.view.get(at)
      // A truncation while awaiting moves the cursor back; the block read is still a valid op.
      if (this.cursor === at) this.cursor = at + 1
      if (isWriterOp(value)) {
        if (!this.writers.has(value.key)) writersChanged = true
        this.writers.add(value.key)
        continue
      }
      const op = parseOp(value)
      if (op) touched.add(applyOp(this.table, op))
    }
    if (touched.size > 0 || writersChanged) this.onRead({ touched, writersChanged })
  }

  /** Stops reading; resolves once a read in progress has ended. */
  async close(): Promise<void> {
    this.closed = true
    await this.reading.catch(() => {})
  }
}
