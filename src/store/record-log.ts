/**
 * The replicated record log: the base this node is on (log-base.ts), kept across restarts by
 * a pointer in the data directory, what is written to it, and when it moves to another.
 *
 * A fresh node starts on a base of its own. When it meets a cluster on a better one (see
 * cluster/log-election.ts) it adopts that one: its records are merged into the new table at
 * once and appended to the new base as soon as the cluster has made this node a writer.
 * Compaction is the same move to a base this node creates, one generation on, seeded with the
 * live records only; the others adopt it because it is later. See DESIGN.md, "Compaction".
 * How a move is made, and a base whose update stops for good opened again in place, is
 * log-moves.ts.
 *
 * What is written goes through log-writer.ts, which waits out a move and writes again on the
 * base this node moved to what the one it left closed on.
 */
import { EventEmitter } from 'node:events'
import type Corestore from 'corestore'
import { nanoid } from 'nanoid'
import type { RecordOp } from './record.ts'
import type { RecordTable } from './record-table.ts'
import type { RecordLogEvents } from './log-events.ts'
import type { LogAdvert } from './log-advert.ts'
import type { LogBase, LogBaseOptions } from './log-base.ts'
import { LogMoves, type Stream } from './log-moves.ts'
import { LogWriter, type AppendOptions, type Scribe } from './log-writer.ts'
import { systemClock, type Clock } from '../clock.ts'

export type { RecordLogEvents } from './log-events.ts'

/**
 * The longest a step of a move to another base may take: opening the new one fails the move
 * (tried again at the next advert), leaving the old one goes on without it. A step that hangs
 * would otherwise hold this node where it is for good, every later move queued behind it (two
 * chaos soaks left a node compactions behind after its store was reopened).
 */
const MOVE_STEP_MS = 30_000
/**
 * How long closing waits for a move under way: a move waits on peers (a base to open, writes
 * to drain), and with none left, as when every node of a cluster stops, it would wait for ever.
 */
const CLOSE_MOVE_WAIT_MS = 5000
/**
 * How long closing waits for the writes under way, the group commit's gathering batch among
 * them: a page was told of those once merged, so they are written, not dropped.
 */
const CLOSE_DRAIN_WAIT_MS = 2000

export interface RecordLogOptions {
  store: Corestore
  /** Where the pointer to the log this node is on is kept. */
  dataDir: string
  /** How often autobase acknowledges, so the signed prefix advances. @default 1000 */
  ackIntervalMs?: number
  /** How long a batch of appends is gathered before it is written (log-base.ts). @default 0 */
  batchMs?: number
  /** How long an append waits for this node to be made a writer before it is refused. @default 10000 */
  writableTimeoutMs?: number
  /**
   * The longest a step of a move to another base may take before the move goes on without it
   * (leaving the old base) or fails and is tried again at the next advert (opening the new).
   * @default 30000
   */
  moveStepMs?: number
  /** How long records carried to an adopted log wait for this node to become its writer. @default 60000 */
  carryOverTimeoutMs?: number
  clock?: Clock
  /** Record time (cluster/cluster-time.ts), to tell which records are still live. @default clock */
  recordTime?: Pick<Clock, 'now'>
  onError?: (err: Error) => void
  /** Reading the view waited long for a block (`done`: it was read at last). */
  onSlowRead?: LogBaseOptions['onSlowRead']
  /** This node's store lacks blocks of its own writer that its peers hold (own-writer.ts). */
  onOwnWriter?: LogBaseOptions['onOwnWriter']
  /** How long an update pass may go without headway before the base is reopened. @default APPLY_STALL_MS */
  stallMs?: number
  /** Autobase's apply function (tests). @default applyNodes */
  apply?: LogBaseOptions['apply']
}

export class RecordLog extends EventEmitter<RecordLogEvents> {
  private readonly moves: LogMoves
  private readonly writer: LogWriter
  private lastAdvert: LogAdvert | null = null

  constructor(o: RecordLogOptions) {
    super()
    const clock = o.clock ?? systemClock
    const onError = o.onError ?? (() => {})
    this.moves = new LogMoves({
      store: o.store,
      dataDir: o.dataDir,
      ackIntervalMs: o.ackIntervalMs ?? 1000,
      batchMs: o.batchMs ?? 0,
      moveStepMs: o.moveStepMs ?? MOVE_STEP_MS,
      carryOverTimeoutMs: o.carryOverTimeoutMs ?? 60_000,
      clock,
      recordTime: o.recordTime ?? clock,
      onError,
      onSlowRead: o.onSlowRead,
      onOwnWriter: o.onOwnWriter,
      stallMs: o.stallMs,
      apply: o.apply,
      events: this,
    })
    this.writer = new LogWriter(this.moves, {
      writableTimeoutMs: o.writableTimeoutMs ?? 10_000,
      onError,
      tell: {
        writing: (key, op) => this.emit('writing', key, op),
        written: (key, op) => this.emit('written', key, op),
        unwritten: (op) => this.emit('unwritten', op),
      },
    })
  }

  /** The base this node is on (undefined until `ready`). */
  private get base(): LogBase | undefined {
    return this.moves.base()
  }

  get table(): RecordTable {
    return this.moves.base().table
  }

  get key(): Buffer {
    return this.moves.base().key
  }

  get writable(): boolean {
    return this.moves.base().writable
  }

  get generation(): number {
    return this.moves.pointer.current?.generation ?? 0
  }

  ready(): Promise<void> {
    return this.moves.start()
  }

  /**
   * Whether the pointer names the base this node is on and no move is under way: only then may
   * the cores of other bases be deleted.
   */
  settled(): boolean {
    const { pointer } = this.moves
    return (
      !this.moves.moving() &&
      !this.moves.closing() &&
      pointer.current !== null &&
      pointer.current.key === this.base?.key.toString('hex')
    )
  }

  /** The keys of the writers of the base this node is on, its creator's included. */
  writerKeys(): string[] {
    return [this.key.toString('hex'), ...this.moves.base().writerKeys()]
  }

  /**
   * When the base this node is on began to open here: the cores first opened since are its
   * (the sweep keeps them, core-births.ts).
   */
  openedSince(): number {
    return this.moves.openedSince()
  }

  /**
   * This node's own writers on the bases of this generation it left, which it may adopt again
   * (left-bases.ts). The sweep keeps them (core-sweep.ts); a compaction to the next generation
   * lets them go.
   */
  returnableWriters(): string[] {
    return this.moves.returnableWriters()
  }

  /** The last append that failed, until one succeeds. */
  writeError(): { message: string; at: number } | null {
    return this.base?.writeError ?? null
  }

  /** Why the log this node is on failed for good, if it did. */
  failure(): Error | null {
    return this.moves.broken() ?? this.base?.failure ?? null
  }

  /** How long reading the log has been waiting for a block (0 when it is not). */
  readStalledMs(): number {
    return this.base?.readStalledMs() ?? 0
  }

  /** How long the oldest write under way to the log this node is on has taken (log-base.ts). */
  writeStalledMs(): number {
    return this.base?.writeStalledMs() ?? 0
  }

  /** How many record operations the log this node is on holds (read so far). */
  ops(): number {
    return this.base?.ops ?? 0
  }

  /** The step of the move under way, or null (log-sync.ts: a move that takes too long). */
  moveStep(): string | null {
    return this.moves.step()
  }

  /** How many blocks of the view the table has read (log-sync.ts: a restarted node's rejoin). */
  readLength(): number {
    return this.base?.readLength ?? 0
  }

  /**
   * Whether the table has read the whole view once and follows it now within a couple of blocks:
   * not after a fast-forward moved the view far ahead of what it read (repository.ts, purge).
   */
  caughtUp(): boolean {
    const base = this.base
    return !!base && base.readAll() && base.viewLength - base.readLength <= 2
  }

  /** Whether the table has read the whole view this node holds (log-base.ts). */
  readAll(): boolean {
    return this.base?.readAll() ?? false
  }

  /** What this node says about its log. While a base opens, what was true last. */
  advert(): LogAdvert {
    this.lastAdvert = this.base?.advert() ?? this.lastAdvert
    if (!this.lastAdvert) throw new Error('the record log is not open')
    return this.lastAdvert
  }

  /** Replicates the log over an admitted peer connection (and every log adopted later). */
  replicate(stream: Stream): void {
    this.moves.replicate(stream)
  }

  /** Makes a peer's local writer a writer of this log (this node must be writable). */
  async addWriter(writerKey: string): Promise<void> {
    await this.moves.afterMoves()
    const base = this.moves.base()
    if (!base.writable || this.moves.closing()) return
    try {
      await base.append([{ type: 'add-writer', key: writerKey }], 0)
    } catch (err) {
      // This node moved to another log meanwhile (or reopened this one, and the writer's
      // next advert asks again): a writer added to the old one is of no use.
      if (!this.moves.isCurrent(base) || this.moves.abandoned(base) || this.moves.closing()) return
      throw err
    }
  }

  /** Appends an operation and resolves once it is written (log-writer.ts). */
  append(op: RecordOp, o: AppendOptions = {}): Promise<void> {
    return this.writer.append(op, o)
  }

  /** From now on `append` asks `scribe` to write each operation (log-writer.ts). */
  handTo(scribe: Scribe): void {
    this.writer.handTo(scribe)
  }

  /** Writes operations a peer asked this node to write for it to the base `key` (log-writer.ts). */
  writeFor(key: string, ops: RecordOp[]): Promise<boolean> {
    return this.writer.writeFor(key, ops)
  }

  /**
   * Merges operations a peer wrote to the base `key` (hex) into the table ahead of the log
   * (cluster/record-broadcast.ts): the base this node is on, or one it left, whose writers
   * carry what they write there to this one when they follow (a peer still on the old log
   * while a compaction spreads; the soak saw a dismissal it wrote there missed here for that
   * long, and the user's next request dismissed as its rival). False for a base this node is
   * not on yet: those are kept and merged if it moves there (early-ops.ts).
   */
  mergeEarly(key: string, ops: RecordOp[]): boolean {
    return this.moves.mergeEarly(key, ops)
  }

  /**
   * Moves this node onto another log (which a peer said was `length` long), carrying over the
   * records that log lacks.
   */
  adopt(key: string, generation: number, length: number): Promise<void> {
    return this.moves.move(() =>
      this.key.toString('hex') === key
        ? null
        : { key, namespace: `log-${key.slice(0, 32)}`, generation, length },
    )
  }

  /**
   * Compaction: moves this node onto a new base one generation on, seeded with the live records
   * only. The others follow because a later generation wins (cluster/log-election.ts).
   */
  compact(): Promise<void> {
    return this.moves.move(() => {
      // One on from the log this node is on, not only from the last one it settled on: a log
      // adopted but never settled (its carry waits for a writer: an orphaned log) is a
      // generation on already, and a fresh log of the same generation would not outrank it.
      const generation = Math.max(this.moves.base().generation, this.generation) + 1
      return { key: null, namespace: `gen-${generation}-${nanoid(10)}`, generation, length: 0 }
    })
  }

  /** Safe to call twice. */
  close(): Promise<void> {
    return this.moves.close(CLOSE_MOVE_WAIT_MS, CLOSE_DRAIN_WAIT_MS)
  }
}
