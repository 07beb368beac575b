/**
 * What happens to records and files after they are made: every node copies each ready file
 * as soon as it exists (so it outlives the node that made it), and a sweep purges what
 * expired, with its file, and hands the rest of the round to the manager.
 */
import type { Download } from '../store/record.ts'
import type { FileStore } from '../store/file-store.ts'
import type { Logger } from '../logger.ts'
import type { Clock, Timer } from '../clock.ts'

export interface HousekeeperOptions {
  records: { purge(): Download[] }
  files: Pick<FileStore, 'prefetch' | 'remove'>
  clock: Clock
  /** How often the sweep runs. */
  intervalMs: number
  log: Logger
  /** A record was purged (its file is being removed). */
  onPurged(download: Download): void
  /** Runs at the end of every sweep, to catch anything an event missed. */
  onSweep(): void
}

export class Housekeeper {
  private readonly prefetched = new Set<string>()
  private timer: Timer | null = null

  constructor(private readonly o: HousekeeperOptions) {}

  start(): void {
    this.timer ??= this.o.clock.setInterval(() => this.sweep(), this.o.intervalMs)
  }

  /** Starts copying a ready download's file here, once. */
  prefetch(d: Download | null): void {
    if (!d?.file || this.prefetched.has(d.id)) return
    this.prefetched.add(d.id)
    this.o.files.prefetch(d.file)
  }

  /** Purges what expired, then lets the manager reconcile. A failure is logged, never thrown. */
  sweep(): void {
    try {
      for (const d of this.o.records.purge()) {
        this.prefetched.delete(d.id)
        if (d.file) {
          this.o.files
            .remove(d.file)
            .catch((err: Error) =>
              this.o.log.error('purge-failed', { id: d.id, error: err.message }),
            )
        }
        this.o.log.info('purged', { id: d.id, user: d.userId, state: d.state })
        this.o.onPurged(d)
      }
      this.o.onSweep()
    } catch (err) {
      this.o.log.error('sweep-failed', { error: (err as Error).message })
    }
  }

  stop(): void {
    if (this.timer) this.o.clock.clearInterval(this.timer)
    this.timer = null
  }
}
