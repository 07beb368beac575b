/**
 * One autobase of record operations, on one corestore namespace, with its view followed into
 * a table. A node is on one base at a time; log-moves.ts moves it from one to another.
 */
import { EventEmitter } from 'node:events'
import Autobase from 'autobase'
import type Corestore from 'corestore'
import type { RecordOp } from './record.ts'
import { applyOp, createTable, type RecordTable } from './record-table.ts'
import type { LogAdvert } from './log-advert.ts'
import { ViewReader, type ReadResult, type ViewReaderOptions } from './view-reader.ts'
import { applyNodes, isWriterOp, type WriterOp } from './writer-admission.ts'
import { packOps, type OpPack } from './op-pack.ts'
import { delay, settlesWithin, within, type Clock } from '../clock.ts'
import { WriterWait } from './writer-wait.ts'
import { GroupCommit } from './group-commit.ts'
import { ApplyWatch } from './apply-watch.ts'
import { OwnWriter, type OwnWriterOptions } from './own-writer.ts'

/** How long an update pass of autobase may go without headway before it is taken as stuck. */
export const APPLY_STALL_MS = 10_000
/** How often the update is looked at (apply-watch.ts). */
const APPLY_CHECK_MS = 1000
/**
 * How long closing waits for autobase before it cancels what autobase waits for: a pass stuck
 * on a block no peer sends holds autobase's close too.
 */
const CLOSE_WAIT_MS = 5000
/**
 * How long opening waits on one block of the view that cannot be read here before it lets the
 * read go on behind. A view fast-forwarded before its blocks were fetched holds blocks only
 * peers have, and a node meets its peers only once it has started: waiting for them there had
 * no end (a node killed right after a fast-forward answered 503 "starting" for good).
 */
const OPEN_READ_STALL_MS = 2000
/**
 * How long a write waits for this node's own writer to be whole (own-writer.ts) before it
 * fails: past the 15 s after which a write under way is a /healthz problem.
 */
const OWN_WRITER_WAIT_MS = 30_000

export interface LogBaseOptions {
  /** The corestore namespace that holds this node's writer for the base; closed with it. */
  store: Corestore
  /** The base to open, or null to create one. */
  key: Buffer | null
  /** Operations the table starts with (carried over from a previous base). */
  seed: RecordOp[]
  /** The base's generation (log-advert.ts). */
  generation: number
  /** How often autobase acknowledges, so the signed prefix advances. */
  ackIntervalMs: number
  /**
   * Group commit: how long the appends of a batch are gathered before it is written (0: the end
   * of the turn of the event loop it opened in). See DESIGN.md, "Records beside the log".
   */
  batchMs: number
  clock: Clock
  onError: (err: Error) => void
  /**
   * Autobase failed and closed itself (a write that did not reach the disk: a full disk, an I/O
   * error). Nothing written from then on lands; only opening the store again recovers.
   */
  onFailed: (err: Error) => void
  /** A block of the view stayed unreadable for a while (`done`: it was read at last). */
  onSlowRead?: ViewReaderOptions['onSlow']
  /**
   * An update pass made no headway for `stallMs` (apply-watch.ts): the view will not move
   * again unless the base is closed and opened again (log-moves.ts does).
   */
  onStalled?: (err: Error) => void
  /** @default APPLY_STALL_MS */
  stallMs?: number
  /** Autobase's apply function (tests give one that waits). @default applyNodes */
  apply?: typeof applyNodes
  /** This node's store lacks blocks of its own writer that its peers hold (own-writer.ts). */
  onOwnWriter?: Pick<OwnWriterOptions, 'onBehind' | 'confirmMs'>
}

export interface LogBaseEvents {
  /** Operations were merged into the table: the ids they touched. */
  change: [ids: Set<string>]
  /** This node became writable, or a writer was admitted. */
  advert: []
  /** Record operations read from the log (not those merged from elsewhere). */
  landed: [ops: RecordOp[]]
  /** Autobase moved the view to a signed state its peers hold (`to`, `from`: its lengths). */
  'fast-forward': [to: number, from: number]
}

/**
 * The base closed before these operations were written to it: nothing of them landed, so the
 * caller may write them to the base this node moved to (log-writer.ts does).
 */
export class BaseClosedError extends Error {
  constructor() {
    super('The record log is closed.')
    this.name = 'BaseClosedError'
  }
}

export class LogBase extends EventEmitter<LogBaseEvents> {
  private readonly base: Autobase
  private reader: ViewReader | null = null
  private closing: Promise<void> | null = null
  /** The last append that failed, until one succeeds. */
  writeError: { message: string; at: number } | null = null
  /** Why autobase closed itself, if it did. */
  failure: Error | null = null
  /** Operations this node appended, in how many batches (group commit) and blocks (packs). */
  readonly writeStats = { batches: 0, ops: 0, blocks: 0 }
  /** What this node appends within a window goes to autobase as one `append` (group-commit.ts). */
  private readonly commit: GroupCommit<RecordOp | WriterOp>
  /** Set by `drain`: nothing more is written here. */
  private draining = false
  /** When each batch handed to autobase and not yet written was handed over. */
  private readonly writesSince = new Set<{ at: number }>()
  /** Appends waiting for this node to become a writer: told when it is one, or the base closes. */
  private readonly writerWait: WriterWait
  /** Notices an update pass that has stopped for good. */
  private readonly watch: ApplyWatch
  /** Set once the watch found the update stuck. */
  private stalled = false
  /** Nothing is appended to this node's writer before it is known whole (own-writer.ts). */
  private readonly ownWriter: OwnWriter

  constructor(private readonly o: LogBaseOptions) {
    super()
    this.base = new Autobase(o.store, o.key, {
      valueEncoding: 'json',
      ackInterval: o.ackIntervalMs,
      open: (viewStore) => viewStore.get({ name: 'records', valueEncoding: 'json' }),
      apply: o.apply ?? applyNodes,
    })
    this.ownWriter = new OwnWriter({
      core: () => this.base.local ?? null,
      known: o.key === null,
      clock: o.clock,
      confirmMs: o.onOwnWriter?.confirmMs,
      onBehind: o.onOwnWriter?.onBehind,
    })
    this.ownWriter.holdBack(this.base)
    // Autobase closes itself before it emits an error: every one is the end of this base.
    this.base.on('error', (err: Error) => {
      if (this.closing) return
      this.failure ??= err
      o.onFailed(err)
    })
    this.commit = new GroupCommit({
      windowMs: o.batchMs,
      clock: o.clock,
      write: (ops) => (this.closing ? Promise.reject(new BaseClosedError()) : this.write(ops)),
    })
    this.writerWait = new WriterWait({
      writable: () => this.base.writable,
      onChange: () => this.emit('advert'),
      clock: o.clock,
    })
    this.base.on('update', () => {
      this.writerWait.check()
      void this.catchUp().catch((err: Error) => o.onError(err))
    })
    this.base.on('writable', () => this.writerWait.check())
    this.base.on('fast-forward', (to: number, from: number) => this.emit('fast-forward', to, from))
    this.base.on('unwritable', () => this.writerWait.check())
    const stallMs = o.stallMs ?? APPLY_STALL_MS
    this.watch = new ApplyWatch({
      clock: o.clock,
      probe: () => this.base.update(),
      progress: () => this.headway(),
      stallMs,
      checkMs: Math.min(APPLY_CHECK_MS, stallMs / 2),
      onStall: (ms) => {
        if (this.closing) return
        this.stalled = true
        o.onStalled?.(
          new Error(`the log's update has made no headway for ${Math.round(ms / 1000)} s`),
        )
      },
    })
  }

  /** Grows (or shrinks, on a reorder) whenever autobase gets on with the log. */
  private headway(): number {
    const { base } = this
    if (!base.core) return 0
    return base.length + base.signedLength + base.indexedLength + (base.view?.length ?? 0)
  }

  async ready(): Promise<void> {
    await this.base.ready()
    // Not admitted and never written: a writer no peer can hold more of.
    this.ownWriter.opened(!this.base.writable && this.base.local.length === 0)
    const table = createTable()
    for (const op of this.o.seed) applyOp(table, op)
    this.reader = new ViewReader({
      view: this.base.view,
      table,
      clock: this.o.clock,
      onRead: (read) => this.onRead(read),
      onSlow: this.o.onSlowRead,
    })
    this.watch.start()
    await this.openingRead()
  }

  /**
   * Reads the view into the table, or as far as it can before it waits `OPEN_READ_STALL_MS` on
   * a block; then the read goes on behind, and what needs the whole table waits for it: the
   * restarted node's first work (rejoin.ts, by `readLength`) and a compaction (log-compaction.ts).
   */
  private async openingRead(): Promise<void> {
    if (!this.reader || this.closing) return
    await this.reader.catchUpUnlessStalled(OPEN_READ_STALL_MS, (err) => this.o.onError(err))
  }

  /**
   * Whether the table has read the whole view once since it opened: not while an opening that
   * went on behind is still reading (`openingRead`). A table following the view as it grows is
   * a block or two behind at times, and counts as read: a compaction carries what lands after
   * its snapshot (log-moves.ts).
   */
  readAll(): boolean {
    return this.reader?.caughtUpOnce ?? false
  }

  /** Merges operations into the table without writing them (what a previous base carried). */
  merge(ops: RecordOp[]): void {
    const touched = new Set<string>()
    for (const op of ops) {
      const id = applyOp(this.table, op)
      if (id !== null) touched.add(id)
    }
    if (touched.size > 0) this.emit('change', touched)
  }

  private onRead({ touched, writersChanged, ops }: ReadResult): void {
    if (ops.length > 0) this.emit('landed', ops)
    if (touched.size > 0) this.emit('change', touched)
    if (writersChanged) this.emit('advert')
  }

  get key(): Buffer {
    return this.base.key
  }

  get generation(): number {
    return this.o.generation
  }

  /** How many blocks the view holds here. */
  get viewLength(): number {
    return this.base.view?.length ?? 0
  }

  /** How many blocks of the view the table has read (the advert's length may be ahead). */
  get readLength(): number {
    return this.reader?.position ?? 0
  }

  get writable(): boolean {
    return this.base.writable
  }

  get table(): RecordTable {
    if (!this.reader) throw new Error('the log is not open')
    return this.reader.table
  }

  /** How many record operations the view read so far holds (its blocks may hold several). */
  get ops(): number {
    return this.reader?.ops ?? 0
  }

  /** What the cluster is told about this base; null while parts of it are (re)opening. */
  advert(): LogAdvert | null {
    const { base } = this
    if (!base.key || !base.view || !base.local?.key) return null
    return {
      key: base.key.toString('hex'),
      writers: 1 + (this.reader?.writers.size ?? 0),
      length: base.view.length,
      writer: base.local.key.toString('hex'),
      writable: base.writable,
      generation: this.o.generation,
    }
  }

  /**
   * Once the view has been read up to `length` (what a peer said the base held), the table the
   * view alone makes; null if that takes longer than the timeout.
   */
  async viewTable(length: number, timeoutMs: number): Promise<RecordTable | null> {
    const deadline = this.o.clock.now() + timeoutMs
    while (!this.closing && (this.reader?.position ?? 0) < length) {
      if (this.o.clock.now() >= deadline) return null
      await delay(this.o.clock, 50)
      await this.catchUp()
    }
    return this.reader && !this.closing ? this.reader.foldRead() : null
  }

  /** The keys of the writers the view admitted (the creator is not among them). */
  writerKeys(): string[] {
    return [...(this.reader?.writers ?? [])]
  }

  /** How long reading the view has been waiting for a block (0 when it is not). */
  readStalledMs(): number {
    return this.reader?.stalledMs() ?? 0
  }

  replicate(stream: unknown): void {
    if (!this.closing) this.base.replicate(stream)
  }

  /**
   * Appends operations (this node must be, or become within the timeout, a writer). Group
   * commit: what every caller appends within one turn of the event loop goes to autobase as
   * one `append([...])`, one batch on disk, instead of one write per operation; each caller
   * resolves once the batch holding its operations is written and applied here (`readBack`
   * false: once written).
   */
  async append(
    ops: (RecordOp | WriterOp)[],
    writableTimeoutMs: number,
    { readBack = true } = {},
  ): Promise<void> {
    if (this.closing || this.draining) throw new BaseClosedError()
    await this.untilWritable(writableTimeoutMs)
    if (this.closing || this.draining) throw new BaseClosedError()
    await this.commit.add(ops)
    if (readBack) await this.catchUp()
  }

  private async write(ops: (RecordOp | WriterOp)[]): Promise<void> {
    const blocks = toBlocks(ops)
    const since = { at: this.o.clock.now() }
    this.writesSince.add(since)
    try {
      const waitMs = Math.max(OWN_WRITER_WAIT_MS, this.o.onOwnWriter?.confirmMs ?? 0)
      const may = await this.ownWriter.until(waitMs, () => this.closing !== null)
      if (!may || this.closing) throw new BaseClosedError()
      await this.base.append(blocks)
      this.writeStats.batches++
      this.writeStats.ops += ops.length
      this.writeStats.blocks += blocks.length
    } catch (err) {
      this.writeError = { message: (err as Error).message, at: this.o.clock.now() }
      throw err
    } finally {
      this.writesSince.delete(since)
    }
    this.writeError = null
  }

  /**
   * How long the oldest batch handed to autobase has been under way (0 when none is). A base
   * whose update loop is stuck neither writes nor fails: a chaos soak met one after its store
   * was reopened, and the writes waited there for good.
   */
  writeStalledMs(): number {
    let oldest = Infinity
    for (const w of this.writesSince) oldest = Math.min(oldest, w.at)
    return oldest === Infinity ? 0 : this.o.clock.now() - oldest
  }

  untilWritable(timeoutMs: number): Promise<void> {
    if (this.base.writable) return Promise.resolve()
    if (this.closing || this.draining) return Promise.reject(new BaseClosedError())
    return this.writerWait.until(timeoutMs)
  }

  /**
   * Stops taking operations and resolves once every batch already handed to autobase is
   * written: then the table holds everything this node wrote here. Appends still waiting to
   * become a writer, or to be batched, fail with BaseClosedError.
   */
  async drain(): Promise<void> {
    this.draining = true
    this.writerWait.fail(new BaseClosedError())
    // A batch still gathering is handed over now, not at the end of its window.
    await this.commit.flush()
    await this.catchUp()
  }

  catchUp(): Promise<void> {
    return this.reader && !this.closing ? this.reader.catchUp() : Promise.resolve()
  }

  /** Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.watch.stop()
      this.ownWriter.close()
      this.writerWait.fail(new BaseClosedError())
      this.commit.cancel(new BaseClosedError())
      await this.reader?.close()
      const closed = this.base.close()
      try {
        // Closing the namespace session first cancels the requests of every core opened
        // through it, so a pass waiting for a block ends, and autobase's close with it.
        if (this.stalled || !(await settlesWithin(this.o.clock, CLOSE_WAIT_MS, closed)))
          await this.o.store.close()
        await within(this.o.clock, CLOSE_WAIT_MS, 'closing the log', closed)
      } finally {
        // The namespace session: the root corestore keeps every session until it is closed.
        await this.o.store.close()
      }
    })()
    return this.closing
  }
}

/** The blocks a batch is written as: record operations packed, a writer addition alone. */
function toBlocks(ops: (RecordOp | WriterOp)[]): (RecordOp | WriterOp | OpPack)[] {
  const blocks: (RecordOp | WriterOp | OpPack)[] = []
  let run: RecordOp[] = []
  for (const op of ops) {
    if (!isWriterOp(op)) {
      run.push(op)
      continue
    }
    blocks.push(...packOps(run), op)
    run = []
  }
  blocks.push(...packOps(run))
  return blocks
}
