/**
 * The replicated record log: record operations appended to an autobase over a corestore on
 * disk, folded by the merge rule into the current table. The autobase view is a hypercore of
 * the applied operations; this class reads it forward and, when autobase truncates and
 * re-applies a reordered tail, simply reads the tail again (the merge is idempotent).
 */
import { EventEmitter } from 'node:events'
import Autobase from 'autobase'
import type { ApplyNode, ApplyHost } from 'autobase'
import type Corestore from 'corestore'
import type Hypercore from 'hypercore'
import { parseOp, type RecordOp } from './record.ts'
import { applyOp, createTable, type RecordTable } from './record-table.ts'

export interface RecordLogOptions {
  store: Corestore
  /** The key of the cluster's log, or null to open (or create) this store's own. */
  bootstrap?: Buffer | null
  /** How often autobase acknowledges so the signed prefix advances. */
  ackIntervalMs?: number
  onError?: (err: Error) => void
}

export interface RecordLogEvents {
  /** Records were merged; the argument holds the ids they touched. */
  change: [ids: Set<string>]
}

export class RecordLog extends EventEmitter<RecordLogEvents> {
  readonly table: RecordTable = createTable()
  readonly base: Autobase
  private cursor = 0
  private reading: Promise<void> = Promise.resolve()
  private closing: Promise<void> | null = null

  constructor({ store, bootstrap = null, ackIntervalMs = 1000, onError }: RecordLogOptions) {
    super()
    this.base = new Autobase(store, bootstrap, {
      valueEncoding: 'json',
      ackInterval: ackIntervalMs,
      open: (viewStore) => viewStore.get({ name: 'records', valueEncoding: 'json' }),
      apply: applyNodes,
    })
    this.base.on('error', (err: Error) => onError?.(err))
    this.base.on('update', () => void this.catchUp().catch((err: Error) => onError?.(err)))
  }

  get key(): Buffer {
    return this.base.key
  }

  async ready(): Promise<void> {
    await this.base.ready()
    this.base.view.on('truncate', (to: number) => {
      if (to < this.cursor) this.cursor = to
    })
    await this.catchUp()
  }

  /** Appends an operation and resolves once it is merged into the local table. */
  async append(op: RecordOp): Promise<void> {
    if (this.closing) throw new Error('record log is closed')
    await this.base.append(op)
    await this.catchUp()
  }

  /** Reads the view up to its current length; calls are serialised. */
  catchUp(): Promise<void> {
    this.reading = this.reading.then(() => this.readForward())
    return this.reading
  }

  private async readForward(): Promise<void> {
    if (this.closing) return
    const view = this.base.view
    const touched = new Set<string>()
    while (this.cursor < view.length) {
      const at = this.cursor
      const op = parseOp(await view.get(at))
      // A truncation while awaiting moves the cursor back; the block read is still a valid op.
      if (this.cursor === at) this.cursor = at + 1
      if (op) touched.add(applyOp(this.table, op))
    }
    if (touched.size > 0) this.emit('change', touched)
  }

  close(): Promise<void> {
    this.closing ??= this.reading.catch(() => {}).then(() => this.base.close())
    return this.closing
  }
}

/** Deterministic, as autobase requires: record operations pass through unchanged. */
async function applyNodes(nodes: ApplyNode[], view: Hypercore, _host: ApplyHost): Promise<void> {
  for (const node of nodes) {
    if (parseOp(node.value)) await view.append(node.value)
  }
}
