/**
 * What happens to records and files after they are made: the nodes chosen to keep a copy of a
 * ready file (placement.ts, keepsFileCopy) copy it as soon as it exists, so that it outlives
 * the node that made it, and again whenever the live members change (a copy's holder died: the
 * next in line copies it); a sweep purges what expired, with its file, and hands the rest of
 * the round to the manager.
 */
import { isBlobRef, type Download } from '../store/record.ts'
import type { Released } from '../store/record-table.ts'
import type { FileStore } from '../store/file-store.ts'
import { bugFields, type Logger } from '../logger.ts'
import type { Clock, Timer } from '../clock.ts'

/** A record purged this long after it expired was not live on this node: it read it so. */
const BACKLOG_MS = 60_000

export interface HousekeeperOptions {
  /** The records, and record time (cluster time: what their expiries are in). */
  records: { purge(): Released[]; all(): Download[]; now(): number }
  files: Pick<FileStore, 'prefetch' | 'remove'>
  /** Whether this node keeps a copy of this ready download's file. */
  keepsCopy(d: Download): boolean
  /**
   * Whether this node may copy files now: not while its disk is low (each copy would fail for
   * want of space, and say so, one line a file). @default always
   */
  mayCopy?: () => boolean
  /** The live members, as a string that changes whenever they do. */
  liveMembers(): string
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
  private members: string | null = null
  private timer: Timer | null = null

  constructor(private readonly o: HousekeeperOptions) {}

  start(): void {
    this.timer ??= this.o.clock.setInterval(() => this.sweep(), this.o.intervalMs)
  }

  /** Starts copying a ready download's file here, once, if this node keeps a copy of it. */
  prefetch(d: Download | null): void {
    if (!d?.file || this.prefetched.has(d.id) || !this.o.keepsCopy(d)) return
    if (!(this.o.mayCopy?.() ?? true)) return
    this.prefetched.add(d.id)
    this.o.files.prefetch(d.file)
  }

  /** Asks again for every file this node keeps (its disk has room again). */
  copyAgain(): void {
    this.prefetched.clear()
    for (const d of this.o.records.all()) this.prefetch(d)
  }

  /** Purges what expired, then lets the manager reconcile. A failure is logged, never thrown. */
  sweep(): void {
    try {
      let backlog = 0
      const now = this.o.records.now()
      for (const { download: d, dismissed } of this.o.records.purge()) {
        this.prefetched.delete(d.id)
        const file = d.file
        if (file) {
          this.o.files.remove(file).catch((err: Error) =>
            this.o.log.warn('purge-failed', {
              id: d.id,
              file: isBlobRef(file) ? undefined : file.name,
              error: err.message,
              message: isBlobRef(file)
                ? "could not free the purged download's file (one made before v8)"
                : "could not delete the purged download's file; the sweep of files no record names deletes it within 70 minutes",
            }),
          )
        }
        // Long expired when this node read it: a restart or a join reads the log again, and
        // what it purges then was purged before. Told in one line, not one line each.
        if (now - d.expiresAt > Math.max(BACKLOG_MS, 2 * this.o.intervalMs)) backlog++
        else
          this.o.log.info('purged', {
            id: d.id,
            user: d.userId,
            state: dismissed ? 'dismissed' : d.state,
            // The record says pending while its worker runs (progress travels beside the log):
            // one that expires so was never made, and how far it got is worth a line.
            ...(!dismissed &&
              d.state === 'pending' && {
                progress: `${d.progress}%`,
                message: 'expired before it was made: its user did not get it',
              }),
          })
        this.o.onPurged(d)
      }
      if (backlog > 0) this.o.log.info('purged-expired-before', { count: backlog })
      this.copyForNewMembers()
      this.o.onSweep()
    } catch (err) {
      this.o.log.error('sweep-failed', {
        ...bugFields(err),
        message:
          'the sweep that purges expired downloads failed (a bug: please report this line); it is tried again at the next sweep',
      })
    }
  }

  /**
   * Once the live members change, the files this node is now to keep, all asked for again: a
   * copy that gave up (its maker away for longer than the store waits) is tried anew, and the
   * store skips those it holds or is making.
   */
  private copyForNewMembers(): void {
    const members = this.o.liveMembers()
    if (members === this.members) return
    this.members = members
    this.copyAgain()
  }

  stop(): void {
    if (this.timer) this.o.clock.clearInterval(this.timer)
    this.timer = null
  }
}
