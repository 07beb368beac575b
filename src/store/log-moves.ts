/**
 * The base this node is on, and its moves from one base to another (record-log.ts says when
 * and why): an adoption (a base a peer is on), a compaction (a new base, one generation on,
 * seeded with the live records) and a reopen (the same base opened again in place after its
 * update stalled: DESIGN.md, "A log that stops applying"). One at a time, in one queue.
 *
 * A move opens the new base before it leaves the old one: a node that cannot open it stays
 * where it was. The pointer in the data directory moves only once what was carried has landed
 * on the new base, so a node that stops in between reopens the old one, which still holds
 * everything, and moves again.
 */
import type { EventEmitter } from 'node:events'
import { nanoid } from 'nanoid'
import type { RecordOp } from './record.ts'
import type { RecordLogEvents } from './log-events.ts'
import { PointerFile, type LogPointer } from './log-pointer.ts'
import { carriedOps, unexpired } from './record-table.ts'
import { carryUntilLanded } from './carry-over.ts'
import { EarlyOps } from './early-ops.ts'
import { LeftBases } from './left-bases.ts'
import { writerDeleted } from './writer-alias.ts'
import { BaseClosedError, type LogBase } from './log-base.ts'
import type { WriterSeat } from './log-writer.ts'
import { openBase, type BaseHolder, type BaseOpeningOptions, type Target } from './base-opening.ts'
import { MoveQueue } from './move-queue.ts'
import { delay, type Clock } from '../clock.ts'

/** The pause before carrying records to a new log again after it failed. */
const CARRY_RETRY_MS = 1000
/** How long, and how many, of peers' operations on another base are kept (early-ops.ts). */
const EARLY_KEEP_MS = 60_000
const EARLY_MAX_OPS = 10_000
/** How many of the bases this node left it still merges peers' operations on (`mergeEarly`). */
const LEFT_KEPT = 8

export interface LogMovesOptions extends BaseOpeningOptions {
  /** Where the pointer to the base this node is on is kept. */
  dataDir: string
  /** Record time, to tell which records are still live. */
  recordTime: Pick<Clock, 'now'>
  /** How long records carried to an adopted base wait for this node to become its writer. */
  carryOverTimeoutMs: number
  /** The record log, whose events a move emits. */
  events: EventEmitter<RecordLogEvents>
}

/** Replication streams stay open across a move; a stream only needs `close` to be tracked. */
export interface Stream {
  once(event: 'close', listener: () => void): void
}

export class LogMoves implements WriterSeat, BaseHolder {
  readonly events: EventEmitter<RecordLogEvents>
  private current!: LogBase
  /** Where the base this node is on was opened from (its key, once known), to open it again. */
  private target!: Target
  /** Bases closed because their update stalled: a write that fails there is written again. */
  private readonly closedStalled = new WeakSet<LogBase>()
  /**
   * Why the base this node is on could not be opened again after it stalled: every write is
   * refused with it (the node opens its whole store again, node-runner.ts), none retried.
   */
  private brokenBy: Error | null = null
  /** When the base this node is on began to open here (this node's clock). */
  private since = 0
  private readonly streams = new Set<Stream>()
  /** What the pointer in the data directory says; the base may be ahead of it while it carries. */
  readonly pointer: PointerFile
  /** How many moves this node made: a carry belongs to one (carry-over.ts). */
  private moves = 0
  private closingRun: Promise<void> | null = null
  /** Peers' operations on bases this node is not on (yet): merged if it moves there. */
  private readonly early = new EarlyOps({ keepMs: EARLY_KEEP_MS, maxOps: EARLY_MAX_OPS })
  private readonly left = new LeftBases(LEFT_KEPT)

  private readonly queue: MoveQueue

  constructor(private readonly o: LogMovesOptions) {
    this.events = o.events
    this.pointer = new PointerFile(o.dataDir)
    this.queue = new MoveQueue(o.clock, o.onError)
  }

  /** Opens the base the pointer names, or a base of this node's own on its first start. */
  async start(): Promise<void> {
    this.since = this.o.clock.now()
    const pointer = await this.pointer.read()
    const namespace = pointer?.namespace ?? 'origin'
    const generation = pointer?.generation ?? 0
    const from = { key: pointer?.key ?? null, namespace, generation, length: 0 }
    this.current = await openBase(this.o, this, from, [], false)
    const key = this.current.key.toString('hex')
    this.target = { key, namespace, generation, length: 0 }
    await this.pointer.save({ key, namespace, generation })
  }

  // WriterSeat (log-writer.ts)
  afterMoves(): Promise<void> {
    return this.queue.idle()
  }
  base(): LogBase {
    return this.current
  }
  closing(): boolean {
    return this.closingRun !== null
  }
  broken(): Error | null {
    return this.brokenBy
  }
  moving(): boolean {
    return this.queue.underWay()
  }
  abandoned(base: LogBase): boolean {
    return this.closedStalled.has(base)
  }

  // BaseHolder (base-opening.ts)
  isCurrent(base: LogBase): boolean {
    return base === this.current
  }
  failed(base: LogBase, err: Error): void {
    if (base === this.current && !this.closingRun) this.events.emit('failed', err)
    else this.o.onError(err)
  }
  stalled(base: LogBase, err: Error): void {
    if (base === this.current && !this.closingRun) void this.reopen(base, err)
    else this.o.onError(err)
  }

  /** When the base this node is on began to open here. */
  openedSince(): number {
    return this.since
  }

  /** The step of the move under way, or null. */
  step(): string | null {
    return this.queue.step
  }

  /** This node's own writers on the bases of this generation it left (left-bases.ts). */
  returnableWriters(): string[] {
    return this.left.writersOf(this.current.generation)
  }

  /** Replicates the base this node is on over `stream`, and every base it moves to later. */
  replicate(stream: Stream): void {
    this.streams.add(stream)
    stream.once('close', () => this.streams.delete(stream))
    if (!this.closingRun) this.current.replicate(stream)
  }

  /** See RecordLog.mergeEarly. */
  mergeEarly(key: string, ops: RecordOp[]): boolean {
    if (this.closingRun || !this.current) return false
    const here = this.current.key.toString('hex')
    if (here === key || this.left.has(key)) {
      // While the base is reopened (`reopen`), kept for the one it opens.
      if (this.closedStalled.has(this.current)) this.early.keep(here, ops, this.o.clock.now())
      else this.current.merge(ops)
      return true
    }
    this.early.keep(key, ops, this.o.clock.now())
    return false
  }

  /** Queues a move to where `target` says when its turn comes (nowhere: null). */
  move(target: () => Target | null): Promise<void> {
    return this.queue.run(async () => {
      const to = this.closingRun ? null : target()
      if (to) await this.switchTo(to)
    })
  }

  private async switchTo(to: Target): Promise<void> {
    const since = this.o.clock.now()
    let target = to
    const old = this.current
    const now = () => this.o.recordTime.now()
    const snapshot = carriedOps(old.table, now())
    const key = target.key?.slice(0, 12) ?? 'a new log'
    const deleted =
      target.key !== null &&
      (await this.bounded(`looking up this node's writer on ${key}`, () =>
        writerDeleted(this.o.store, target.namespace),
      ))
    if (deleted) {
      // This node was on that log before, left it, and its sweep deleted its writer there (a
      // restart forgets which writers to keep: `returnableWriters`): a new name
      // (writer-alias.ts).
      target = { ...to, namespace: `${to.namespace}-${nanoid(8)}` }
      this.events.emit('writer-renewed', to.key!)
    }
    // The new base opens before the old one closes: if it cannot, this node stays where it was.
    this.queue.step = `opening ${key}`
    const next = await openBase(this.o, this, target, snapshot, true)
    try {
      if (this.closingRun) throw new BaseClosedError()
      // A new base holds the records before any peer hears of it, so they carry only the rest.
      if (target.key === null) {
        await next.append(unexpired(snapshot, now()), this.o.carryOverTimeoutMs)
      }
      // A pointer being written for the base being left lands before the move (`settle`).
      await this.pointer.written()
      if (this.closingRun) throw new BaseClosedError()
    } catch (err) {
      // Not moved to: closed here, or nothing would close it (nor watch it: a stall of a base
      // this node is not on is only logged).
      await next.close().catch(() => {})
      if (this.closingRun) return
      throw err
    }
    const move = ++this.moves
    this.current = next
    this.brokenBy = null
    this.target = { ...target, key: next.key.toString('hex'), length: 0 }
    this.since = since
    this.left.add({
      key: old.key.toString('hex'),
      generation: old.generation,
      writer: old.advert()?.writer ?? null,
    })
    const early = this.early.take(next.key.toString('hex'))
    if (early.length > 0) next.merge(early)
    for (const stream of this.streams) next.replicate(stream)
    // What the old base was still writing lands there, then is carried like the rest; an
    // append it had not taken yet is written to the new base (log-writer.ts).
    // Bounded: a base whose update loop is stuck neither writes nor fails (a chaos soak met
    // one after its store was reopened), and waiting for it held this node off every later
    // log. What it held is in its table, merged as each write started, and carried all the
    // same; a write it lands after all is a copy, which changes nothing.
    await this.leaving(old, 'draining the log left', () => old.drain())
    const carried = carriedOps(old.table, now())
    next.merge(carried)
    const oldIds = new Set(old.table.entries.keys())
    await this.leaving(old, 'closing the log left', () => old.close())
    this.events.emit('change', new Set([...oldIds, ...next.table.entries.keys()]))
    this.events.emit('advert')
    const pointer = { ...target, key: next.key.toString('hex') }
    void carryUntilLanded(
      {
        idle: () => this.queue.idle(),
        current: () => this.onMove(move) && !this.brokenBy,
        base: () => this.current,
        reopening: (base) => this.closedStalled.has(base),
        landed: () => this.settle(move, pointer),
      },
      unexpired(carried, now()),
      target.length,
      {
        timeoutMs: this.o.carryOverTimeoutMs,
        retryMs: CARRY_RETRY_MS,
        clock: this.o.clock,
        onError: this.o.onError,
      },
    )
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
    return this.queue.run(async () => {
      if (stuck !== this.current || this.closingRun) return
      const key = stuck.key.toString('hex')
      this.queue.step = 'reopening the log'
      // From here what peers send for this base waits in `early` for the one opened next.
      this.closedStalled.add(stuck)
      const snapshot = carriedOps(stuck.table, this.o.recordTime.now())
      const ids = new Set(stuck.table.entries.keys())
      this.events.emit('stalled', key, err)
      await stuck.close().catch((e: Error) => this.o.onError(e))
      const next = await openBase(this.o, this, this.target, snapshot, true).catch((e: Error) => {
        this.brokenBy = new Error(`could not open the log again: ${e.message}`)
        this.events.emit('failed', this.brokenBy)
        throw e
      })
      if (this.closingRun) return void (await next.close().catch(() => {}))
      this.current = next
      next.merge(this.early.take(key))
      for (const stream of this.streams) next.replicate(stream)
      this.events.emit('change', new Set([...ids, ...next.table.entries.keys()]))
      this.events.emit('advert')
      this.events.emit('reopened', key)
    })
  }

  /** A step of a move, given `moveStepMs`: past it, the step fails. */
  private bounded<T>(step: string, run: () => Promise<T>): Promise<T> {
    return this.queue.bounded(step, this.o.moveStepMs, run)
  }

  /** A step of leaving `old`, given `moveStepMs`; one that fails or hangs is told, not waited on. */
  private async leaving(old: LogBase, step: string, run: () => Promise<void>): Promise<void> {
    try {
      await this.bounded(step, run)
    } catch (err) {
      const key = old.key.toString('hex').slice(0, 12)
      this.o.onError(new Error(`leaving the log ${key}: ${(err as Error).message}; moved on`))
    }
  }

  /** Moves the pointer to the base of move `move`, unless another move has begun. */
  private async settle(move: number, pointer: LogPointer): Promise<void> {
    if (!this.onMove(move)) return
    await this.pointer.save(pointer, () => this.onMove(move))
    if (this.pointer.current === pointer) this.events.emit('settled', pointer)
  }

  /** Whether move `move` is the last one this node made, and the log is not closing. */
  private onMove(move: number): boolean {
    return !this.closingRun && this.moves === move
  }

  /**
   * Closes the base this node is on once the move under way and its writes are through, each
   * waited for a while only (`moveWaitMs`, `drainWaitMs`): a move waits on peers, and with none
   * left, as when every node of a cluster stops, it would wait for ever. Safe to call twice.
   */
  close(moveWaitMs: number, drainWaitMs: number): Promise<void> {
    this.closingRun ??= (async () => {
      const moved = this.queue.idle()
      await Promise.race([moved, delay(this.o.clock, moveWaitMs)])
      const drained = this.current?.drain().catch(() => {})
      await Promise.race([drained, delay(this.o.clock, drainWaitMs)])
      await this.current?.close()
      await this.pointer.written()
    })()
    return this.closingRun
  }
}
