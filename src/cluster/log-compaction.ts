/**
 * When the cluster compacts its record log (store/record-log.ts, `compact`): the log this
 * node is on holds more operations than the threshold, and at least four times as many as
 * there are records to carry (else the fresh log would soon be as long as the old one). One
 * member starts it, the live member with the smallest id; members that disagree on who that is
 * start two, and the log election keeps one (log-election.ts). See DESIGN.md, "Compaction".
 */
import type { Logger } from '../logger.ts'
import type { LogAdvert } from '../store/log-advert.ts'
import type { Clock, Timer } from '../clock.ts'

/** How many operations a compaction must save, as a multiple of the records it carries. */
const MIN_SHRINK = 4

export function compactionDue(length: number, records: number, thresholdOps: number): boolean {
  return thresholdOps > 0 && length >= thresholdOps && length >= MIN_SHRINK * records
}

/** The log as compaction drives it. */
export interface CompactedLog {
  advert(): LogAdvert
  /** No move is under way and the pointer names the log this node is on. */
  settled(): boolean
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
  clock: Clock
  logger: Logger
}

export class LogCompaction {
  private timer: Timer | null = null
  private running = false

  constructor(private readonly o: LogCompactionOptions) {}

  start(): void {
    if (this.timer || this.o.thresholdOps <= 0) return
    this.timer = this.o.clock.setInterval(() => void this.check(), this.o.checkMs ?? 5000)
  }

  /** Starts a compaction if one is due here; resolves when it has ended. */
  async check(): Promise<void> {
    const { log, logger, clock } = this.o
    if (this.running || !log.settled()) return
    const advert = log.advert()
    const records = this.o.records()
    if (!advert.writable || !compactionDue(advert.length, records, this.o.thresholdOps)) return
    if (!this.o.leads()) return
    this.running = true
    const started = clock.now()
    logger.info('log-compact', {
      key: advert.key.slice(0, 12),
      length: advert.length,
      records,
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
