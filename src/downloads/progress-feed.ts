/**
 * The live feed of each user's download to the sockets on this node. The log holds state
 * changes and coarse checkpoints; ticks (from a local worker, or relayed from another node)
 * carry the progress in between. The feed merges both into what a client is sent, under one
 * rule: what a client is sent for one download never moves back.
 */
import type { Download } from '../store/record.ts'
import { isLive } from '../store/record.ts'
import type { ProgressTick } from '../cluster/relay.ts'
import type { Logger } from '../logger.ts'
import type { DownloadEvent, DownloadView, Listener } from './service.ts'

export interface RecordReader {
  get(id: string): Download | null
  forUser(userId: string): Download | null
}

/** Who else wants this user's ticks: the relay tells the other nodes. */
export interface Interest {
  watch(userId: string): void
  unwatch(userId: string): void
}

export interface ProgressFeedOptions {
  records: RecordReader
  interest?: Interest
  log: Logger
}

export class ProgressFeed {
  /** Progress newer than the last checkpoint, per download id. */
  private readonly live = new Map<string, { epoch: number; progress: number; at: number }>()
  /** The furthest progress shown to this user's sockets here, so it never moves back. */
  private readonly shown = new Map<string, { id: string; progress: number }>()
  private readonly listeners = new Map<string, Set<Listener>>()
  /** The last message sent per user: an unchanged view is not sent again. */
  private readonly lastSent = new Map<string, string>()
  /** Users whose notifications wait for `release`, with how many holds. */
  private readonly held = new Map<string, number>()

  constructor(private readonly o: ProgressFeedOptions) {}

  /** Progress from a worker, here or on another node. */
  tick(tick: ProgressTick): void {
    const d = this.o.records.get(tick.id)
    // A late tick from an owner that has since been replaced is ignored.
    if (d && (tick.epoch < d.epoch || !isLive(d))) return
    const known = this.live.get(tick.id)
    if (known && known.epoch === tick.epoch && known.progress >= tick.progress) return
    this.live.set(tick.id, { epoch: tick.epoch, progress: tick.progress, at: tick.at })
    this.notify(tick.userId)
  }

  /** Whether a worker of the download's current owner has told progress here. */
  started(d: Download): boolean {
    const tick = this.live.get(d.id)
    return tick !== undefined && tick.epoch >= d.epoch
  }

  /** The user's download as a client should see it, with the freshest progress known here. */
  current(userId: string): DownloadView | null {
    const d = this.o.records.forUser(userId)
    if (!d) return null
    if (!isLive(d)) return d
    let view: DownloadView = d
    const tick = this.live.get(d.id)
    if (tick && tick.epoch >= d.epoch && tick.progress > d.progress) {
      // Ticks come straight from the worker, its `processing` write through the log: a tick
      // can arrive first, and a worker that ticks is running.
      view = { ...d, state: 'processing', progress: tick.progress, progressAt: tick.at }
    }
    // After a takeover the successor resumes from the last checkpoint, which may be behind what
    // the relay already showed: hold the bar where it was rather than move it back. A held value
    // was not measured now, so it goes without a `progressAt`.
    const shown = this.shown.get(userId)
    if (shown?.id === d.id && shown.progress > view.progress) {
      const { progressAt: _, ...measured } = view
      view = { ...measured, progress: shown.progress, savedProgress: d.progress }
    }
    return view
  }

  subscribe(userId: string, listener: Listener): void {
    let set = this.listeners.get(userId)
    if (!set) this.listeners.set(userId, (set = new Set()))
    set.add(listener)
    if (set.size === 1) this.o.interest?.watch(userId)
  }

  unsubscribe(userId: string, listener: Listener): void {
    const set = this.listeners.get(userId)
    if (!set?.delete(listener) || set.size > 0) return
    this.listeners.delete(userId)
    this.lastSent.delete(userId)
    this.shown.delete(userId)
    this.o.interest?.unwatch(userId)
  }

  /**
   * Holds this user's notifications until `release` (which sends what changed meanwhile): a
   * request is shown once its peers were sent it, not the moment it is merged here (manager.ts).
   */
  hold(userId: string): void {
    this.held.set(userId, (this.held.get(userId) ?? 0) + 1)
  }

  release(userId: string): void {
    const holds = (this.held.get(userId) ?? 1) - 1
    if (holds > 0) return void this.held.set(userId, holds)
    this.held.delete(userId)
    this.notify(userId)
  }

  /** Sends the user's current view to its listeners here, unless it is what they last got. */
  notify(userId: string): void {
    if (!this.listeners.has(userId) || this.held.has(userId)) return
    const view = this.current(userId)
    if (view) this.shown.set(userId, { id: view.id, progress: view.progress })
    const key = JSON.stringify(view)
    if (this.lastSent.get(userId) === key) return
    this.lastSent.set(userId, key)
    this.emit(userId, { type: 'download', download: view })
  }

  /** Sends an event to the user's listeners here; one that throws does not stop the others. */
  emit(userId: string, event: DownloadEvent): void {
    for (const listener of this.listeners.get(userId) ?? []) {
      try {
        listener.onDownloadEvent(event)
      } catch (err) {
        this.o.log.error('listener-failed', { user: userId, error: (err as Error).message })
      }
    }
  }

  /** A purged download's ticks are of no more use. */
  forget(id: string): void {
    this.live.delete(id)
  }
}
