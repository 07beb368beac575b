/**
 * When the cluster compacts its record log (store/record-log.ts, `compact`): once the log this
 * node is on holds at least the threshold more operations than a compaction would carry, that
 * is once a compaction would drop that many. A fresh log starts with what it carried, so the
 * next one comes after as many operations again, however many records are live: a busy
 * cluster carries thousands of recent dismissals, packed a few hundred to a block
 * (op-pack.ts). And once the log has been quiet a while (nothing written for `idleMs`) with a
 * hundredth of the threshold to drop: else a cluster at rest keeps, until its next busy spell,
 * whatever part of the threshold its last one left (up to 10,000 operations and their blocks,
 * some MB per node, depending only on where in its cycle the load stopped). One member starts
 * it, the live member with the smallest id; members that disagree on who that is start two,
 * and the log election keeps one (log-election.ts). See DESIGN.md, "Compaction".
 */
import type { Logger } from '../logger.ts'
import type { LogAdvert } from '../store/log-advert.ts'
import type { Clock, Timer } from '../clock.ts'

export function compactionDue(ops: number, carried: number, thresholdOps: number): boolean {
  return thresholdOps > 0 && ops - carried >= thresholdOps
}

/**
 * Due once the log is quiet: a hundredth of the threshold to drop, so that a cluster used now
 * and then does not move to a fresh log after every download.
 */
export function idleCompactionDue(ops: number, carried: number, thresholdOps: number): boolean {
  return thresholdOps > 0 && ops - carried >= idleCompactionLeaves(thresholdOps)
}

/** Fewer operations to drop than this, a quiet log is left as it is. */
export function idleCompactionLeaves(thresholdOps: number): number {
  return Math.max(1, Math.ceil(thresholdOps / 100))
}

/** The log as compaction drives it. */
export interface CompactedLog {
  advert(): LogAdvert
  /** The record operations the log holds. */
  ops(): number
  /** No move is under way and the pointer names the log this node is on. */
  settled(): boolean
  /** The step of the move under way, or null when there is none. */
  moveStep(): string | null
  /**
   * Whether the table has read the whole view: a compaction seeds the new log from the table,
   * and a node just opened may still be reading it (log-base.ts, `openingRead`).
   */
  readAll(): boolean
  compact(): Promise<void>
}

export interface LogCompactionOptions {
  log: CompactedLog
  /** How many records the log would carry (live ones and dismissals). */
  records: () => number
  /** Whether this node is the member that starts a compaction. */
  leads: () => boolean
  /** 0 turns compaction off. */
  thresholdOps: number
  /** @default 5000 */
  checkMs?: number
  /**
   * Nothing written to the log for this long: a compaction is due at a hundredth of the
   * threshold. Shorter than the sweeper's quiet minute (core-sweep.ts), so the sweep that
   * ends a busy spell comes after the move and deletes the log left behind.
   * @default 30000
   */
  idleMs?: number
  /**
   * Whether a live member, this one included, is a writer of the log this node is on. A
   * compaction's log has one writer, its maker, until the maker admits the others: should it
   * die in that second, the log takes no write until it is back, and none ever if it is gone
   * (a chaos soak killed one a millisecond after it compacted; its peers refused writes for
   * 12 s). Once that has lasted `orphanedMs`, the leader moves the cluster to a log of its own,
   * carrying its table, as any compaction does. @default always
   */
  hasLiveWriter?: () => boolean
  /** @default 3000: a write waiting for a writer is refused after 10 s (record-log.ts). */
  orphanedMs?: number
  clock: Clock
  logger: Logger
}

export class LogCompaction {
  private timer: Timer | null = null
  private running = false
  /** The log's operations when last checked, and since when it has held that many. */
  private seen = { ops: -1, since: 0 }
  /** Since when no live member has been a writer of the log `key` (see `hasLiveWriter`). */
  private unwritten: { key: string; since: number } | null = null

  constructor(private readonly o: LogCompactionOptions) {}

  /** Checks every few seconds; with the threshold at 0 only for a log no one can write. */
  start(): void {
    if (this.timer) return
    this.timer = this.o.clock.setInterval(() => void this.check(), this.o.checkMs ?? 5000)
  }

  /** Starts a compaction if one is due here; resolves when it has ended. */
  async check(): Promise<void> {
    const { log, clock } = this.o
    if (this.running || !log.readAll()) return
    const advert = log.advert()
    // Not settled: a log no one can write never settles (what was carried to it waits for a
    // writer), so this one goes by whether a move is under way.
    if (this.orphaned(advert) && log.moveStep() === null && this.o.leads())
      return this.run('orphaned', advert)
    if (!log.settled()) return
    const ops = log.ops()
    if (ops !== this.seen.ops) this.seen = { ops, since: clock.now() }
    const records = this.o.records()
    const idle = clock.now() - this.seen.since >= (this.o.idleMs ?? 30_000)
    const reason = compactionDue(ops, records, this.o.thresholdOps)
      ? 'threshold'
      : idle && idleCompactionDue(ops, records, this.o.thresholdOps)
        ? 'idle'
        : null
    if (!advert.writable || !reason || !this.o.leads()) return
    return this.run(reason, advert)
  }

  /** Whether no live member has written the log this node is on for `orphanedMs`. */
  private orphaned(advert: LogAdvert): boolean {
    if (this.o.hasLiveWriter?.() ?? true) {
      this.unwritten = null
      return false
    }
    const now = this.o.clock.now()
    if (this.unwritten?.key !== advert.key) this.unwritten = { key: advert.key, since: now }
    return now - this.unwritten.since >= (this.o.orphanedMs ?? 3000)
  }

  private async run(reason: string, advert: LogAdvert): Promise<void> {
    const { log, logger, clock } = this.o
    this.running = true
    const started = clock.now()
    logger.info('log-compact', {
      reason,
      key: advert.key.slice(0, 12),
      length: log.ops(),
      blocks: advert.length,
      records: this.o.records(),
      generation: advert.generation + 1,
    })
    try {
      await log.compact()
      const now = log.advert()
      logger.info('log-compacted', {
        key: now.key.slice(0, 12),
        generation: now.generation,
        ms: clock.now() - started,
      })
    } catch (err) {
      logger.error('log-compact-failed', { error: (err as Error).message })
    } finally {
      this.running = false
    }
  }

  stop(): void {
    if (this.timer) this.o.clock.clearInterval(this.timer)
    this.timer = null
  }
}
