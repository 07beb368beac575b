/**
 * The replicated record log: record operations appended to an autobase over a corestore on
 * disk, folded by the merge rule into the current table. The autobase view is a hypercore of
 * the applied operations; this class reads it forward and, when autobase truncates and
 * re-applies a reordered tail, simply reads the tail again (the merge is idempotent).
 *
 * A fresh node starts on a log of its own. When it meets a cluster on a better log (see
 * log-election.ts) it adopts that one: its records are merged into the new table at once and
 * appended to the new log as soon as the cluster has made this node a writer.
 */
import { EventEmitter } from 'node:events'
import Autobase from 'autobase'
import type { ApplyNode, ApplyHost } from 'autobase'
import type Corestore from 'corestore'
import type Hypercore from 'hypercore'
import { parseOp, type RecordOp } from './record.ts'
import { readPointer, savePointer } from './log-pointer.ts'
import { applyOp, createTable, visibleRecords, type RecordTable } from './record-table.ts'
import type { LogAdvert } from '../cluster/log-election.ts'

/** Indexers sign the log's settled prefix; a majority must be writing. See DESIGN.md. */
export const MAX_INDEXERS = 3
/** How long an append waits for this node to be made a writer before it is refused. */
export const WRITABLE_TIMEOUT_MS = 10_000

export interface RecordLogOptions {
  store: Corestore
  /** Where the pointer to the log this node is on is kept. */
  dataDir: string
  /** How often autobase acknowledges so the signed prefix advances. */
  ackIntervalMs?: number
  now?: () => number
  onError?: (err: Error) => void
}

export interface RecordLogEvents {
  /** Records were merged; the argument holds the ids they touched. */
  change: [ids: Set<string>]
  /** The advert changed: another log was adopted, this node became writable, a writer joined. */
  advert: []
}

interface WriterOp {
  type: 'add-writer'
  key: string
}

/** Only record operations and writer additions are ever applied. */
function isWriterOp(v: unknown): v is WriterOp {
  const o = v as WriterOp | null
  return (
    typeof o === 'object' &&
    o !== null &&
    o.type === 'add-writer' &&
    typeof o.key === 'string' &&
    /^[0-9a-f]{64}$/.test(o.key)
  )
}

export class RecordLog extends EventEmitter<RecordLogEvents> {
  private base!: Autobase
  private namespace = 'origin'
  private tableState: RecordTable = createTable()
  private writers = new Set<string>()
  private cursor = 0
  private reading: Promise<void> = Promise.resolve()
  private switching: Promise<void> = Promise.resolve()
  private readonly streams = new Set<unknown>()
  private closing: Promise<void> | null = null
  private lastAdvert: LogAdvert | null = null
  private readonly o: Required<Omit<RecordLogOptions, 'onError'>> &
    Pick<RecordLogOptions, 'onError'>

  constructor(options: RecordLogOptions) {
    super()
    this.o = { ackIntervalMs: 1000, now: Date.now, ...options }
  }

  get table(): RecordTable {
    return this.tableState
  }

  get key(): Buffer {
    return this.base.key
  }

  get writable(): boolean {
    return this.base.writable
  }

  async ready(): Promise<void> {
    const pointer = await readPointer(this.o.dataDir)
    this.namespace = pointer?.namespace ?? 'origin'
    this.base = this.openBase(pointer ? Buffer.from(pointer.key, 'hex') : null)
    await this.base.ready()
    await savePointer(this.o.dataDir, {
      key: this.base.key.toString('hex'),
      namespace: this.namespace,
    })
    this.watchView()
    await this.catchUp()
    this.advert()
  }

  advert(): LogAdvert {
    const base = this.base
    // While a base opens or closes some of its parts are null: keep saying what was true last.
    if (base?.key && base.view && base.local?.key) {
      this.lastAdvert = {
        key: base.key.toString('hex'),
        writers: 1 + this.writers.size,
        length: base.view.length,
        writer: base.local.key.toString('hex'),
        writable: base.writable,
      }
    }
    if (!this.lastAdvert) throw new Error('the record log is not open')
    return this.lastAdvert
  }

  /** Replicates the log over an admitted peer connection (and every log adopted later). */
  replicate(stream: { once(e: 'close', f: () => void): void }): void {
    this.streams.add(stream)
    stream.once('close', () => this.streams.delete(stream))
    if (!this.closing) this.base.replicate(stream)
  }

  /** Makes a peer's local writer a writer of this log (this node must be writable). */
  async addWriter(writerKey: string): Promise<void> {
    if (!this.base.writable || this.closing) return
    await this.base.append({ type: 'add-writer', key: writerKey } satisfies WriterOp)
  }

  /** Appends an operation and resolves once it is merged into the local table. */
  async append(op: RecordOp): Promise<void> {
    await this.switching
    if (this.closing) throw new Error('The record log is closed.')
    await this.untilWritable()
    await this.base.append(op)
    await this.catchUp()
  }

  /** Moves this node onto another log, carrying its records over. */
  adopt(key: string): Promise<void> {
    const run = this.switching.then(() => this.switchTo(key))
    this.switching = run.catch((err: Error) => this.o.onError?.(err))
    return run
  }

  private async switchTo(key: string): Promise<void> {
    if (this.closing || this.base.key.toString('hex') === key) return
    const carried = visibleRecords(this.tableState, this.o.now())
    const old = this.base
    const oldIds = new Set(this.tableState.entries.keys())
    await this.reading.catch(() => {})

    this.namespace = `log-${key.slice(0, 32)}`
    this.base = this.openBase(Buffer.from(key, 'hex'))
    await this.base.ready()
    for (const stream of this.streams) this.base.replicate(stream)
    await savePointer(this.o.dataDir, {
      key: this.base.key.toString('hex'),
      namespace: this.namespace,
    })
    await old.close().catch(() => {})

    this.tableState = createTable()
    this.writers = new Set()
    this.cursor = 0
    for (const download of carried) applyOp(this.tableState, { type: 'put', download })
    this.watchView()
    await this.catchUp()
    this.emit('change', new Set([...oldIds, ...this.tableState.entries.keys()]))
    this.emit('advert')
    if (carried.length > 0) void this.carryOver(carried)
  }

  private async carryOver(records: ReturnType<typeof visibleRecords>): Promise<void> {
    try {
      await this.untilWritable(60_000)
      for (const download of records) await this.base.append({ type: 'put', download })
      await this.catchUp()
    } catch (err) {
      this.o.onError?.(
        new Error(
          `could not carry ${records.length} records to the cluster log: ${(err as Error).message}`,
        ),
      )
    }
  }

  private openBase(bootstrap: Buffer | null): Autobase {
    const base = new Autobase(this.o.store.namespace(this.namespace), bootstrap, {
      valueEncoding: 'json',
      ackInterval: this.o.ackIntervalMs,
      open: (viewStore) => viewStore.get({ name: 'records', valueEncoding: 'json' }),
      apply: applyNodes,
    })
    base.on('error', (err: Error) => this.o.onError?.(err))
    base.on('update', () => {
      if (base === this.base) void this.catchUp().catch((err: Error) => this.o.onError?.(err))
    })
    base.on('writable', () => {
      if (base === this.base) this.emit('advert')
    })
    return base
  }

  private watchView(): void {
    const base = this.base
    base.view.on('truncate', (to: number) => {
      if (base === this.base && to < this.cursor) this.cursor = to
    })
  }

  private untilWritable(timeoutMs = WRITABLE_TIMEOUT_MS): Promise<void> {
    if (this.base.writable) return Promise.resolve()
    const base = this.base
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        base.off('writable', onWritable)
        reject(
          new Error('This node has not been admitted to the cluster log yet; try again shortly.'),
        )
      }, timeoutMs)
      const onWritable = () => {
        clearTimeout(timer)
        resolve()
      }
      base.once('writable', onWritable)
    })
  }

  /** Reads the view up to its current length; calls are serialised. */
  catchUp(): Promise<void> {
    this.reading = this.reading.then(() => this.readForward())
    return this.reading
  }

  private async readForward(): Promise<void> {
    if (this.closing) return
    const base = this.base
    const view = base.view
    const touched = new Set<string>()
    let writersChanged = false
    while (this.cursor < view.length && base === this.base) {
      const at = this.cursor
      const value = await view.get(at)
      // A truncation while awaiting moves the cursor back; the block read is still a valid op.
      if (this.cursor === at) this.cursor = at + 1
      if (isWriterOp(value)) {
        if (!this.writers.has(value.key)) writersChanged = true
        this.writers.add(value.key)
        continue
      }
      const op = parseOp(value)
      if (op) touched.add(applyOp(this.tableState, op))
    }
    if (touched.size > 0) this.emit('change', touched)
    if (writersChanged) this.emit('advert')
  }

  close(): Promise<void> {
    this.closing ??= this.switching
      .catch(() => {})
      .then(() => this.reading.catch(() => {}))
      .then(() => this.base?.close())
    return this.closing
  }
}

/**
 * Deterministic, as autobase requires. Record operations pass through to the view. A writer
 * addition is applied once; the first MAX_INDEXERS writers are indexers, the rest are not, so
 * losing one node of three still leaves a signing majority.
 */
async function applyNodes(
  nodes: ApplyNode[],
  view: Hypercore,
  host: ApplyHost & { system?: SystemView },
): Promise<void> {
  for (const node of nodes) {
    const value = node.value
    if (isWriterOp(value)) {
      const key = Buffer.from(value.key, 'hex')
      if (host.system && (await host.system.has(key))) continue
      const indexer = (host.system?.indexers.length ?? 0) < MAX_INDEXERS
      await host.addWriter(key, { indexer })
      await view.append(value)
      continue
    }
    if (parseOp(value)) await view.append(value)
  }
}

interface SystemView {
  has(key: Buffer): Promise<boolean>
  indexers: unknown[]
}
