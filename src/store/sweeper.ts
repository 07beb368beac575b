/**
 * When a node sweeps its store (core-sweep.ts says what a sweep does): a while after each move
 * to another log, once a busy spell is over, and every interval; one sweep at a time, and
 * another soon after one that left cores it could not close.
 */
import type Corestore from 'corestore'
import { sweepCores, type SweepResult } from './core-sweep.ts'
import type { Clock, Timer } from '../clock.ts'

/** A sweep, and how long the store had not been written to when it started. */
export interface SweptResult extends SweepResult {
  /** Null: nothing written since the sweeper started. */
  idleMs: number | null
}

export interface SweeperOptions {
  store: Corestore
  /** The hex keys of the cores to keep beside those open. */
  keep: () => Iterable<string>
  /** And the hex discovery keys of more to keep (core-births.ts). */
  keepIds?: () => Iterable<string>
  /** Whether it is safe to sweep now (the pointer names the log this node is on). */
  settled: () => boolean
  /**
   * How long after a move the sweep waits, for the cores left behind to close; while some are
   * still open it sweeps again as often, for a minute. @default 30000
   */
  afterMoveMs?: number
  /** How often it sweeps anyway, for the files of purged downloads. @default 3600000 */
  intervalMs?: number
  /**
   * Once the store was written to since the last sweep, a quiet spell this long sweeps: the disk
   * of a busy hour comes back a minute after it ends, not at the next hourly sweep.
   * @default 60000
   */
  quietMs?: number
  clock: Clock
  /** Before a sweep starts (to measure the disk, for instance). */
  onStart?: () => Promise<void>
  onSwept: (result: SweptResult) => void | Promise<void>
  onError: (err: Error) => void
  /** What a sweep does (tests pass their own). @default sweepCores */
  sweep?: typeof sweepCores
}

/**
 * For this long after a move the sweep comes back every `afterMoveMs` for cores still closing;
 * after that at twice the last wait each time (up to the interval), for as long as some are.
 */
const FOLLOW_UP_MS = 60_000

/**
 * When to sweep: a while after each move, once a busy spell is over, and every interval. One
 * sweep at a time.
 */
export class Sweeper {
  private timer: Timer | null = null
  /** When the pending timer fires. */
  private dueAt = Infinity
  private running: Promise<void> | null = null
  private stopped = false
  /** A sweep came due while one was running: it runs once that one ends. */
  private again = false
  /** Since when cores left behind may still be closing. */
  private movedAt = -Infinity
  /** The store was written to since the last sweep started, last at `wroteAt`. */
  private dirty = false
  private wroteAt = -Infinity
  private quietTimer: Timer | null = null
  /** The wait before the last follow-up for cores still closing (0: none pending). */
  private followUpMs = 0

  constructor(private readonly o: SweeperOptions) {}

  /**
   * Sweeps after the delay that lets a log this node left close its cores. A sweep already due
   * by then stays as it is: moves every few seconds (a low --log-compact-ops) must not put
   * every sweep off (the soak saw three in six minutes); the cores of the latest move are
   * handed over then and deleted by the follow-up.
   */
  soon(): void {
    this.movedAt = this.o.clock.now()
    this.schedule(this.afterMoveMs)
  }

  /**
   * The store was written to (a record merged, a file kept): a sweep once it has been quiet for
   * `quietMs`. Called for every write, so it only notes the time; one timer looks again when
   * the spell could have ended.
   */
  wrote(): void {
    this.dirty = true
    this.wroteAt = this.o.clock.now()
    if (!this.quietTimer && !this.stopped) this.checkQuiet(this.quietMs)
  }

  private get quietMs(): number {
    return this.o.quietMs ?? 60_000
  }

  private checkQuiet(ms: number): void {
    this.quietTimer = this.o.clock.setTimeout(() => {
      this.quietTimer = null
      if (!this.dirty) return
      const quietFor = this.o.clock.now() - this.wroteAt
      if (quietFor < this.quietMs) this.checkQuiet(this.quietMs - quietFor)
      else void this.run()
    }, ms)
  }

  private get afterMoveMs(): number {
    return this.o.afterMoveMs ?? 30_000
  }

  start(): void {
    this.soon()
  }

  /** A sweep within `ms`: one due sooner stays as it is. */
  private schedule(ms: number): void {
    if (this.stopped) return
    if (this.timer && this.dueAt <= this.o.clock.now() + ms) return
    if (this.timer) this.o.clock.clearTimeout(this.timer)
    this.dueAt = this.o.clock.now() + ms
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = null
      this.dueAt = Infinity
      void this.run()
    }, ms)
  }

  /** Sweeps now unless one is running or a move is under way (then shortly after it). */
  run(): Promise<void> {
    if (this.stopped) return Promise.resolve()
    if (this.running) {
      this.again = true
      return this.running
    }
    if (!this.o.settled()) {
      this.soon()
      return Promise.resolve()
    }
    let next = this.o.intervalMs ?? 3_600_000
    this.dirty = false
    const idleMs = this.wroteAt === -Infinity ? null : this.o.clock.now() - this.wroteAt
    this.running = Promise.resolve(this.o.onStart?.())
      .then(() =>
        (this.o.sweep ?? sweepCores)(this.o.store, this.o.keep(), this.o.keepIds?.() ?? []),
      )
      .then((result) => {
        if (result.closing === 0) this.followUpMs = 0
        else {
          // Cores of a log left behind can stay open past the minute (the soak saw two still
          // closing 67 s after its cluster's last move, and then no sweep for the hour, while
          // it waited for rest): they are looked at again, less and less often.
          const following = this.o.clock.now() - this.movedAt < FOLLOW_UP_MS
          this.followUpMs = following
            ? this.afterMoveMs
            : Math.max(this.afterMoveMs, this.followUpMs * 2)
          next = Math.min(next, this.followUpMs)
        }
        return this.o.onSwept({ ...result, idleMs })
      })
      .catch(this.o.onError)
      .finally(() => {
        this.running = null
        if (this.again) next = 0
        this.again = false
        this.schedule(next)
      })
    return this.running
  }

  /** Waits for a sweep in progress: the store must not close under it. */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) this.o.clock.clearTimeout(this.timer)
    if (this.quietTimer) this.o.clock.clearTimeout(this.quietTimer)
    await this.running
  }
}
