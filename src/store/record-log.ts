/**
 * The replicated record log: the base this node is on (log-base.ts), kept across restarts by
 * a pointer in the data directory, and the move from one base to another.
 *
 * A fresh node starts on a base of its own. When it meets a cluster on a better one (see
 * cluster/log-election.ts) it adopts that one: its records are merged into the new table at
 * once and appended to the new base as soon as the cluster has made this node a writer.
 * Compaction is the same move to a base this node creates, one generation on, seeded with the
 * live records only; the others adopt it because it is later. See DESIGN.md, "Compaction".
 *
 * The pointer moves only once what was carried has landed on the new base: a node that stops
 * in between reopens the old base, which still holds everything, and moves again.
 *
 * A base whose update stops for good (apply-watch.ts) is closed and opened again in place
 * (`reopen`), in the same queue as the moves. See DESIGN.md, "A log that stops applying".
 *
 * What is written goes through log-writer.ts, which waits out a move and writes again on the
 * base this node moved to what the one it left closed on.
 */
import { EventEmitter } from 'node:events'
import type Corestore from 'corestore'
import { nanoid } from 'nanoid'
import type { RecordOp } from './record.ts'
import { PointerFile, type LogPointer } from './log-pointer.ts'
import { carriedOps, unexpired, type RecordTable } from './record-table.ts'
import { carryOver } from './carry-over.ts'
import { EarlyOps } from './early-ops.ts'
import { LeftBases } from './left-bases.ts'
import { writerDeleted } from './writer-alias.ts'
import type { LogAdvert } from './log-advert.ts'
import { BaseClosedError, LogBase, type LogBaseOptions } from './log-base.ts'
import { LogWriter, type AppendOptions, type Scribe, type WriterSeat } from './log-writer.ts'
import { delay, systemClock, within, type Clock } from '../clock.ts'

/**
 * The longest a step of a move to another base may take: opening the new one fails the move
 * (tried again at the next advert), leaving the old one goes on without it. A step that hangs
 * would otherwise hold this node where it is for good, every later move queued behind it (two
 * chaos soaks left a node compactions behind after its store was reopened).
 */
const MOVE_STEP_MS = 30_000
/** The pause before carrying records to a new log again after it failed. */
const CARRY_RETRY_MS = 1000
/** How long, and how many, of peers' operations on another base are kept (early-ops.ts). */
const EARLY_KEEP_MS = 60_000
const EARLY_MAX_OPS = 10_000
/** How many of the bases this node left it still merges peers' operations on (`mergeEarly`). */
const LEFT_KEPT = 8
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
  /** How long an update pass may go without headway before the base is reopened. @default APPLY_STALL_MS */
  stallMs?: number
  /** Autobase's apply function (tests). @default applyNodes */
  apply?: LogBaseOptions['apply']
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
  /**
   * This node is on another base for good: what it carried landed there and the pointer says
   * so. The cores of the bases it left may now be deleted (core-sweep.ts).
   */
  settled: [pointer: LogPointer]
  /** This node starts writing an operation to the base `key` (hex): peers may be told. */
  writing: [key: string, op: RecordOp]
  /** This node wrote an operation to the base `key` (hex). */
  written: [key: string, op: RecordOp]
  /** A write that started ('writing') failed for good. */
  unwritten: [op: RecordOp]
  /** Record operations read from the log this node is on. */
  landed: [ops: RecordOp[]]
  /** Autobase fast-forwarded the log this node is on (log-base.ts). */
  'fast-forward': [to: number, from: number]
  /**
   * This node adopts again the base `key` (hex) after its sweep deleted its writer there, and
   * writes under a new one: the old one, if an indexer, stays silent until the next compaction.
   */
  'writer-renewed': [key: string]
  /**
   * The update of the base `key` (hex) stopped for good (apply-watch.ts): this node closes it
   * and opens it again, which starts its update afresh.
   */
  stalled: [key: string, err: Error]
  /** The base `key` (hex) was opened again after it stalled. */
  reopened: [key: string]
}

/** Where a move goes: an existing base (an adoption) or a new one (a compaction, key null). */
interface Target {
  key: string | null
  namespace: string
  generation: number
  /** How long a peer said the base was: what to read of it before carrying what it lacks. */
  length: number
}

/** Replication streams stay open across a move; a stream only needs `close` to be tracked. */
interface Stream {
  once(event: 'close', listener: () => void): void
}

export class RecordLog extends EventEmitter<RecordLogEvents> {
  private base!: LogBase
  /** Where the base this node is on was opened from (its key, once known), to open it again. */
  private target!: Target
  /** Bases closed because their update stalled: a write that fails there is written again. */
  private readonly abandoned = new WeakSet<LogBase>()
  /**
   * Why the base this node is on could not be opened again after it stalled: every write is
   * refused with it (the node opens its whole store again, node-runner.ts), none retried.
   */
  private broken: Error | null = null
  /** When the base this node is on began to open here (this node's clock). */
  private baseSince = 0
  private switching: Promise<void> = Promise.resolve()
  private readonly streams = new Set<Stream>()
  /** What the pointer in the data directory says; the base may be ahead of it while it carries. */
  private readonly pointer: PointerFile
  private moving = false
  /** How many moves this node made: a carry belongs to one (`carry`). */
  private moves = 0
  /** The step of the move under way, for a move that takes too long to say where it is. */
  private step: string | null = null
  private closing: Promise<void> | null = null
  private lastAdvert: LogAdvert | null = null
  /** Peers' operations on bases this node is not on (yet): merged if it moves there. */
  private readonly early = new EarlyOps({ keepMs: EARLY_KEEP_MS, maxOps: EARLY_MAX_OPS })
  private readonly left = new LeftBases(LEFT_KEPT)
  private readonly writer: LogWriter
  private readonly o: Required<Omit<RecordLogOptions, 'onSlowRead' | 'stallMs' | 'apply'>> &
    Pick<RecordLogOptions, 'onSlowRead' | 'stallMs' | 'apply'>

  constructor(o: RecordLogOptions) {
    super()
    const clock = o.clock ?? systemClock
    this.o = {
      ackIntervalMs: o.ackIntervalMs ?? 1000,
      batchMs: o.batchMs ?? 0,
      writableTimeoutMs: o.writableTimeoutMs ?? 10_000,
      carryOverTimeoutMs: o.carryOverTimeoutMs ?? 60_000,
      moveStepMs: o.moveStepMs ?? MOVE_STEP_MS,
      clock,
      recordTime: o.recordTime ?? clock,
      onError: o.onError ?? (() => {}),
      store: o.store,
      dataDir: o.dataDir,
      onSlowRead: o.onSlowRead,
      stallMs: o.stallMs,
      apply: o.apply,
    }
    this.pointer = new PointerFile(o.dataDir)
    const seat: WriterSeat = {
      afterMoves: () => this.switching,
      base: () => this.base,
      closing: () => this.closing !== null,
      broken: () => this.broken,
      moving: () => this.moving,
      abandoned: (base) => this.abandoned.has(base),
    }
    this.writer = new LogWriter(seat, {
      writableTimeoutMs: this.o.writableTimeoutMs,
      onError: this.o.onError,
      tell: {
        writing: (key, op) => this.emit('writing', key, op),
        written: (key, op) => this.emit('written', key, op),
        unwritten: (op) => this.emit('unwritten', op),
      },
    })
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

  get generation(): number {
    return this.pointer.current?.generation ?? 0
  }

  async ready(): Promise<void> {
    this.baseSince = this.o.clock.now()
    const pointer = await this.pointer.read()
    const namespace = pointer?.namespace ?? 'origin'
    const generation = pointer?.generation ?? 0
    this.base = await this.open({ key: pointer?.key ?? null, namespace, generation, length: 0 }, [])
    const key = this.base.key.toString('hex')
    this.target = { key, namespace, generation, length: 0 }
    await this.pointer.save({ key, namespace, generation })
  }

  private async open(target: Target, seed: RecordOp[], bounded = false): Promise<LogBase> {
    const base = new LogBase({
      store: this.o.store.namespace(target.namespace),
      key: target.key === null ? null : Buffer.from(target.key, 'hex'),
      seed,
      generation: target.generation,
      ackIntervalMs: this.o.ackIntervalMs,
      batchMs: this.o.batchMs,
      clock: this.o.clock,
      onError: this.o.onError,
      onFailed: (err) => {
        if (base === this.base && !this.closing) this.emit('failed', err)
        else this.o.onError(err)
      },
      onSlowRead: this.o.onSlowRead,
      stallMs: this.o.stallMs,
      apply: this.o.apply,
      onStalled: (err) => {
        if (base === this.base && !this.closing) void this.reopen(base, err)
        else this.o.onError(err)
      },
    })
    base.on('change', (ids) => {
      if (base === this.base) this.emit('change', ids)
    })
    base.on('advert', () => {
      if (base === this.base) this.emit('advert')
    })
    base.on('landed', (ops) => {
      if (base === this.base) this.emit('landed', ops)
    })
    base.on('fast-forward', (to, from) => {
      if (base === this.base) this.emit('fast-forward', to, from)
    })
    try {
      // Bounded in a move only: at start there is nothing else to be on.
      await (bounded
        ? within(
            this.o.clock,
            this.o.moveStepMs,
            `opening the log ${target.key?.slice(0, 12)}`,
            base.ready(),
          )
        : base.ready())
    } catch (err) {
      // Waited for a while only: a base whose opening hangs may hang closing too.
      await within(this.o.clock, 5000, 'closing', base.close()).catch(() => {})
      throw err
    }
    return base
  }

  /**
   * Whether the pointer names the base this node is on and no move is under way: only then may
   * the cores of other bases be deleted.
   */
  settled(): boolean {
    return (
      !this.moving &&
      !this.closing &&
      this.pointer.current !== null &&
      this.pointer.current.key === this.base?.key.toString('hex')
    )
  }

  /** The keys of the writers of the base this node is on, its creator's included. */
  writerKeys(): string[] {
    return [this.base.key.toString('hex'), ...this.base.writerKeys()]
  }

  /**
   * When the base this node is on began to open here: the cores first opened since are its
   * (the sweep keeps them, core-births.ts).
   */
  openedSince(): number {
    return this.baseSince
  }

  /**
   * This node's own writers on the bases of this generation it left, which it may adopt again
   * (left-bases.ts). The sweep keeps them (core-sweep.ts); a compaction to the next generation
   * lets them go.
   */
  returnableWriters(): string[] {
    return this.left.writersOf(this.base.generation)
  }

  /** The last append that failed, until one succeeds. */
  writeError(): { message: string; at: number } | null {
    return this.base?.writeError ?? null
  }

  /** Why the log this node is on failed for good, if it did. */
  failure(): Error | null {
    return this.broken ?? this.base?.failure ?? null
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
    return this.step
  }

  /** How many blocks of the view the table has read (log-sync.ts: a restarted node's rejoin). */
  readLength(): number {
    return this.base?.readLength ?? 0
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
      // This node moved to another log meanwhile (or reopened this one, and the writer's
      // next advert asks again): a writer added to the old one is of no use.
      if (base !== this.base || this.abandoned.has(base) || this.closing) return
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
    if (this.closing || !this.base) return false
    const here = this.base.key.toString('hex')
    if (here === key || this.left.has(key)) {
      // While the base is reopened (`reopen`), kept for the one it opens.
      if (this.abandoned.has(this.base)) this.early.keep(here, ops, this.o.clock.now())
      else this.base.merge(ops)
      return true
    }
    this.early.keep(key, ops, this.o.clock.now())
    return false
  }

  /**
   * Moves this node onto another log (which a peer said was `length` long), carrying over the
   * records that log lacks.
   */
  adopt(key: string, generation: number, length: number): Promise<void> {
    return this.move(() =>
      this.base.key.toString('hex') === key
        ? null
        : { key, namespace: `log-${key.slice(0, 32)}`, generation, length },
    )
  }

  /**
   * Compaction: moves this node onto a new base one generation on, seeded with the live records
   * only. The others follow because a later generation wins (cluster/log-election.ts).
   */
  compact(): Promise<void> {
    return this.move(() => {
      // One on from the log this node is on, not only from the last one it settled on: a log
      // adopted but never settled (its carry waits for a writer: an orphaned log) is a
      // generation on already, and a fresh log of the same generation would not outrank it.
      const generation = Math.max(this.base.generation, this.generation) + 1
      return { key: null, namespace: `gen-${generation}-${nanoid(10)}`, generation, length: 0 }
    })
  }

  private move(target: () => Target | null): Promise<void> {
    const run = this.switching.then(() => {
      const to = this.closing ? null : target()
      return to ? this.switchTo(to) : undefined
    })
    this.switching = run.catch((err: Error) => this.o.onError(err))
    return run
  }

  private async switchTo(to: Target): Promise<void> {
    this.moving = true
    const since = this.o.clock.now()
    try {
      let target = to
      const old = this.base
      const now = () => this.o.recordTime.now()
      const snapshot = carriedOps(old.table, now())
      const key = target.key?.slice(0, 12) ?? 'a new log'
      this.step = `looking up this node's writer on ${key}`
      const deleted =
        target.key !== null &&
        (await within(
          this.o.clock,
          this.o.moveStepMs,
          this.step,
          writerDeleted(this.o.store, target.namespace),
        ))
      if (deleted) {
        // This node was on that log before, left it, and its sweep deleted its writer there (a
        // restart forgets which writers to keep: `returnableWriters`): a new name
        // (writer-alias.ts).
        target = { ...to, namespace: `${to.namespace}-${nanoid(8)}` }
        this.emit('writer-renewed', to.key!)
      }
      // The new base opens before the old one closes: if it cannot, this node stays where it was.
      this.step = `opening ${key}`
      const next = await this.open(target, snapshot, true)
      try {
        if (this.closing) throw new BaseClosedError()
        // A new base holds the records before any peer hears of it, so they carry only the rest.
        if (target.key === null) {
          await next.append(unexpired(snapshot, now()), this.o.carryOverTimeoutMs)
        }
        // A pointer being written for the base being left lands before the move (`settle`).
        await this.pointer.written()
        if (this.closing) throw new BaseClosedError()
      } catch (err) {
        // Not moved to: closed here, or nothing would close it (nor watch it: a stall of a base
        // this node is not on is only logged).
        await next.close().catch(() => {})
        if (this.closing) return
        throw err
      }
      const move = ++this.moves
      this.base = next
      this.broken = null
      this.target = { ...target, key: next.key.toString('hex'), length: 0 }
      this.baseSince = since
      this.left.add({
        key: old.key.toString('hex'),
        generation: old.generation,
        writer: old.advert()?.writer ?? null,
      })
      const early = this.early.take(next.key.toString('hex'))
      if (early.length > 0) next.merge(early)
      for (const stream of this.streams) next.replicate(stream)
      // What the old base was still writing lands there, then is carried like the rest; an
      // append it had not taken yet is written to the new base (`append`).
      // Bounded: a base whose update loop is stuck neither writes nor fails (a chaos soak met
      // one after its store was reopened), and waiting for it held this node off every later
      // log. What it held is in its table, merged as each write started, and carried all the
      // same; a write it lands after all is a copy, which changes nothing.
      await this.leaving(old, 'draining the log left', () => old.drain())
      const carried = carriedOps(old.table, now())
      next.merge(carried)
      const oldIds = new Set(old.table.entries.keys())
      await this.leaving(old, 'closing the log left', () => old.close())
      this.emit('change', new Set([...oldIds, ...next.table.entries.keys()]))
      this.emit('advert')
      const pointer = { ...target, key: next.key.toString('hex') }
      void this.carry(move, unexpired(carried, now()), pointer, target.length)
    } finally {
      this.moving = false
      this.step = null
    }
  }

  /**
   * Closes the base this node is on and opens it again, after its update stalled (log-base.ts,
   * apply-watch.ts): what was waited for is cancelled, and the new autobase starts its update
   * afresh from what is on disk. The table it starts with holds what the old one held (merged
   * operations that are not in the view among them); writes under way on the old base are
   * written again on the new one (log-writer.ts). A base that fails to open fails the log, as a
   * store that fails does.
   */
  private reopen(stuck: LogBase, err: Error): Promise<void> {
    const run = this.switching.then(async () => {
      if (stuck !== this.base || this.closing) return
      const key = stuck.key.toString('hex')
      this.moving = true
      this.step = 'reopening the log'
      try {
        // From here what peers send for this base waits in `early` for the one opened next.
        this.abandoned.add(stuck)
        const snapshot = carriedOps(stuck.table, this.o.recordTime.now())
        const ids = new Set(stuck.table.entries.keys())
        this.emit('stalled', key, err)
        await stuck.close().catch((e: Error) => this.o.onError(e))
        const next = await this.open(this.target, snapshot, true).catch((e: Error) => {
          this.broken = new Error(`could not open the log again: ${e.message}`)
          this.emit('failed', this.broken)
          throw e
        })
        if (this.closing) return void (await next.close().catch(() => {}))
        this.base = next
        next.merge(this.early.take(key))
        for (const stream of this.streams) next.replicate(stream)
        this.emit('change', new Set([...ids, ...next.table.entries.keys()]))
        this.emit('advert')
        this.emit('reopened', key)
      } finally {
        this.moving = false
        this.step = null
      }
    })
    this.switching = run.catch((e: Error) => this.o.onError(e))
    return run
  }

  /** A step of leaving `old`, given `moveStepMs`; one that fails or hangs is told, not waited on. */
  private async leaving(old: LogBase, step: string, run: () => Promise<void>): Promise<void> {
    this.step = step
    try {
      await within(this.o.clock, this.o.moveStepMs, step, run())
    } catch (err) {
      const key = old.key.toString('hex').slice(0, 12)
      this.o.onError(new Error(`leaving the log ${key}: ${(err as Error).message}; moved on`))
    }
  }

  /**
   * Carries what the base of move `move` lacks, then moves the pointer; tries again until it
   * can, and ends once another move has begun. A reopen of the same base is not another move
   * (`reopen`): the carry writes on the base opened again what the instance closed under it had
   * not written.
   */
  private async carry(move: number, carried: RecordOp[], pointer: LogPointer, length: number) {
    for (;;) {
      await this.switching
      if (!this.onMove(move) || this.broken) return
      const base = this.base
      try {
        await carryOver(base, carried, length, this.o.carryOverTimeoutMs)
        return await this.settle(move, pointer)
      } catch (err) {
        if (!this.onMove(move)) return
        // Closed under the carry for a reopen, which is queued: the next turn waits for it.
        if (this.abandoned.has(base)) continue
        this.o.onError(new Error(`could not carry records to the log: ${(err as Error).message}`))
        await delay(this.o.clock, CARRY_RETRY_MS)
      }
    }
  }

  private async settle(move: number, pointer: LogPointer): Promise<void> {
    if (!this.onMove(move)) return
    await this.pointer.save(pointer, () => this.onMove(move))
    if (this.pointer.current === pointer) this.emit('settled', pointer)
  }

  /** Whether move `move` is the last one this node made, and the log is not closing. */
  private onMove(move: number): boolean {
    return !this.closing && this.moves === move
  }

  /** Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const moved = this.switching.catch(() => {})
      await Promise.race([moved, delay(this.o.clock, CLOSE_MOVE_WAIT_MS)])
      const drained = this.base?.drain().catch(() => {})
      await Promise.race([drained, delay(this.o.clock, CLOSE_DRAIN_WAIT_MS)])
      await this.base?.close()
      await this.pointer.written()
    })()
    return this.closing
  }
}
