/**
 * The replicated record log: the base this node is on (log-base.ts), kept across restarts by
 * a pointer in the data directory, and the move from one base to another.
 *
 * A fresh node starts on a base of its own. When it meets a cluster on a better one (see
 * cluster/log-election.ts) it adopts that one: its records are merged into the new table at
 * once and appended to the new base as soon as the cluster has made this node a writer.
 */
import { EventEmitter } from 'node:events'
import type Corestore from 'corestore'
import type { Download, RecordOp } from './record.ts'
import { readPointer, savePointer } from './log-pointer.ts'
import { visibleRecords, type RecordTable } from './record-table.ts'
import type { LogAdvert } from './log-advert.ts'
import { LogBase, type LogBaseOptions } from './log-base.ts'
import { systemClock, type Clock } from '../clock.ts'

export interface RecordLogOptions {
  store: Corestore
  /** Where the pointer to the log this node is on is kept. */
  dataDir: string
  /** How often autobase acknowledges, so the signed prefix advances. @default 1000 */
  ackIntervalMs?: number
  /** How long an append waits for this node to be made a writer before it is refused. @default 10000 */
  writableTimeoutMs?: number
  /** How long records carried to an adopted log wait for this node to become its writer. @default 60000 */
  carryOverTimeoutMs?: number
  clock?: Clock
  /** Record time (cluster/cluster-time.ts), to tell which records are still live. @default clock */
  recordTime?: Pick<Clock, 'now'>
  onError?: (err: Error) => void
  /** Reading the view waited long for a block (`done`: it was read at last). */
  onSlowRead?: LogBaseOptions['onSlowRead']
}

export interface RecordLogEvents {
  /** Records were merged; the argument holds the ids they touched. */
  change: [ids: Set<string>]
  /** The advert changed: another log was adopted, this node became writable, a writer joined. */
  advert: []
  /**
   * The log this node is on failed for good (log-base.ts, `onFailed`): writes no longer land,
   * and only opening the store again recovers (node-runner.ts).
   */
  failed: [err: Error]
}

/** Replication streams stay open across a move; a stream only needs `close` to be tracked. */
interface Stream {
  once(event: 'close', listener: () => void): void
}

export class RecordLog extends EventEmitter<RecordLogEvents> {
  private base!: LogBase
  private switching: Promise<void> = Promise.resolve()
  private readonly streams = new Set<Stream>()
  private closing: Promise<void> | null = null
  private lastAdvert: LogAdvert | null = null
  private readonly o: Required<Omit<RecordLogOptions, 'onSlowRead'>> &
    Pick<RecordLogOptions, 'onSlowRead'>

  constructor({
    ackIntervalMs = 1000,
    writableTimeoutMs = 10_000,
    carryOverTimeoutMs = 60_000,
    clock = systemClock,
    recordTime = clock,
    onError = () => {},
    ...rest
  }: RecordLogOptions) {
    super()
    this.o = {
      ackIntervalMs,
      writableTimeoutMs,
      carryOverTimeoutMs,
      clock,
      recordTime,
      onError,
      ...rest,
    }
  }

  get table(): RecordTable {
    return this.base.table
  }

  get key(): Buffer {
    return this.base.key
  }

  get writable(): boolean {
    return this.base.writable
  }

  async ready(): Promise<void> {
    const pointer = await readPointer(this.o.dataDir)
    const namespace = pointer?.namespace ?? 'origin'
    this.base = await this.open(namespace, pointer ? Buffer.from(pointer.key, 'hex') : null, [])
    await savePointer(this.o.dataDir, { key: this.base.key.toString('hex'), namespace })
  }

  private async open(namespace: string, key: Buffer | null, seed: Download[]): Promise<LogBase> {
    const base = new LogBase({
      store: this.o.store.namespace(namespace),
      key,
      seed,
      ackIntervalMs: this.o.ackIntervalMs,
      clock: this.o.clock,
      onError: this.o.onError,
      onFailed: (err) => {
        if (base === this.base && !this.closing) this.emit('failed', err)
        else this.o.onError(err)
      },
      onSlowRead: this.o.onSlowRead,
    })
    base.on('change', (ids) => {
      if (base === this.base) this.emit('change', ids)
    })
    base.on('advert', () => {
      if (base === this.base) this.emit('advert')
    })
    try {
      await base.ready()
    } catch (err) {
      await base.close().catch(() => {})
      throw err
    }
    return base
  }

  /** The last append that failed, until one succeeds. */
  writeError(): { message: string; at: number } | null {
    return this.base?.writeError ?? null
  }

  /** Why the log this node is on failed for good, if it did. */
  failure(): Error | null {
    return this.base?.failure ?? null
  }

  /** How long reading the log has been waiting for a block (0 when it is not). */
  readStalledMs(): number {
    return this.base?.readStalledMs() ?? 0
  }

  /** What this node says about its log. While a base opens, what was true last. */
  advert(): LogAdvert {
    this.lastAdvert = this.base?.advert() ?? this.lastAdvert
    if (!this.lastAdvert) throw new Error('the record log is not open')
    return this.lastAdvert
  }

  /** Replicates the log over an admitted peer connection (and every log adopted later). */
  replicate(stream: Stream): void {
    this.streams.add(stream)
    stream.once('close', () => this.streams.delete(stream))
    if (!this.closing) this.base.replicate(stream)
  }

  /** Makes a peer's local writer a writer of this log (this node must be writable). */
  async addWriter(writerKey: string): Promise<void> {
    await this.switching
    const base = this.base
    if (!base.writable || this.closing) return
    try {
      await base.append([{ type: 'add-writer', key: writerKey }], 0)
    } catch (err) {
      // This node moved to another log meanwhile: a writer of the old one is of no use.
      if (base !== this.base || this.closing) return
      throw err
    }
  }

  /** Appends an operation and resolves once it is merged into the local table. */
  async append(op: RecordOp): Promise<void> {
    await this.switching
    if (this.closing) throw new Error('The record log is closed.')
    await this.base.append([op], this.o.writableTimeoutMs)
  }

  /** Moves this node onto another log, carrying its records over. */
  adopt(key: string): Promise<void> {
    const run = this.switching.then(() => this.switchTo(key))
    this.switching = run.catch((err: Error) => this.o.onError(err))
    return run
  }

  private async switchTo(key: string): Promise<void> {
    if (this.closing || this.base.key.toString('hex') === key) return
    const old = this.base
    const carried = visibleRecords(old.table, this.o.recordTime.now())
    const oldIds = new Set(old.table.entries.keys())
    const namespace = `log-${key.slice(0, 32)}`
    // The new base opens before the old one closes: if it cannot, this node stays where it was.
    this.base = await this.open(namespace, Buffer.from(key, 'hex'), carried)
    for (const stream of this.streams) this.base.replicate(stream)
    await savePointer(this.o.dataDir, { key: this.base.key.toString('hex'), namespace })
    await old.close().catch(() => {})

    this.emit('change', new Set([...oldIds, ...this.base.table.entries.keys()]))
    this.emit('advert')
    if (carried.length > 0) void this.carryOver(this.base, carried)
  }

  private async carryOver(base: LogBase, records: Download[]): Promise<void> {
    try {
      const ops = records.map((download): RecordOp => ({ type: 'put', download }))
      await base.append(ops, this.o.carryOverTimeoutMs)
    } catch (err) {
      this.o.onError(
        new Error(
          `could not carry ${records.length} records to the cluster log: ${(err as Error).message}`,
        ),
      )
    }
  }

  /** Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= this.switching.catch(() => {}).then(() => this.base?.close())
    return this.closing
  }
}
