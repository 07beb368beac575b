/**
 * The record log without autobase: operations merge into the table at once, by the same merge
 * rule. Under a real LogRepository it lets the downloads layer run in unit tests.
 */
import { EventEmitter } from 'node:events'
import type { RecordOp } from '../../src/store/record.ts'
import { applyOp, createTable } from '../../src/store/record-table.ts'
import type { OpLog } from '../../src/store/repository.ts'

export class MemoryLog extends EventEmitter<{ change: [ids: Set<string>] }> implements OpLog {
  readonly table = createTable()
  readonly ops: RecordOp[] = []
  /** While set, appends fail with this error (a full disk, a closed store). */
  failing: Error | null = null
  private gate: Promise<void> = Promise.resolve()
  private open: () => void = () => {}
  private writeGate: Promise<void> = Promise.resolve()
  private openWrites: () => void = () => {}

  /** Appends wait (as on a slow disk) until `release`. */
  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve))
  }

  release(): void {
    this.open()
  }

  /**
   * Appends merge at once and their writes wait until `releaseWrites`, as a node's writes wait
   * for the group commit's window: `until: 'written'` waits for that, `'merged'` does not.
   */
  holdWrites(): void {
    this.writeGate = new Promise((resolve) => (this.openWrites = resolve))
  }

  releaseWrites(): void {
    this.openWrites()
  }

  /** Merges as it writes, unless writes are held (`holdWrites`). */
  async append(
    op: RecordOp,
    o: { until?: 'written' | 'merged'; onMerged?: () => void } = {},
  ): Promise<void> {
    await this.gate
    if (this.failing) throw this.failing
    this.ops.push(op)
    const id = applyOp(this.table, op)
    o.onMerged?.()
    if (id !== null) this.emit('change', new Set([id]))
    if (o.until !== 'merged') await this.writeGate
  }
}
