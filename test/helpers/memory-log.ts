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

  /** Appends wait (as on a slow disk) until `release`. */
  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve))
  }

  release(): void {
    this.open()
  }

  /** Merges as it writes: `until` changes nothing here. */
  async append(op: RecordOp, _o?: { until?: 'written' | 'merged' }): Promise<void> {
    await this.gate
    if (this.failing) throw this.failing
    this.ops.push(op)
    const id = applyOp(this.table, op)
    if (id !== null) this.emit('change', new Set([id]))
  }
}
