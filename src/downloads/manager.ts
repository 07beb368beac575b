/**
 * The download manager: the small public contract the web layer uses (request, dismiss,
 * current, subscribe, open a file). Behind it, the supervisor runs the workers, and a sweep
 * each second purges what expired and catches anything an event missed.
 */
import { nanoid } from 'nanoid'
import type { Download } from '../store/record.ts'
import { isLive } from '../store/record.ts'
import type { StoredFile } from '../store/file-store.ts'
import { Supervisor, type SupervisorOptions } from './supervisor.ts'

export interface ManagerOptions extends Omit<SupervisorOptions, 'onProgress'> {
  /** How often expired records are purged and every worker is reconciled. */
  purgeIntervalMs: number
  relay?: ProgressRelay
}

/** Live progress between nodes (see cluster/relay.ts); absent on a node without peers. */
export interface ProgressRelay {
  watch(userId: string): void
  unwatch(userId: string): void
  publish(event: ProgressTick): void
  on(event: 'progress', listener: (tick: ProgressTick) => void): unknown
}

export interface ProgressTick {
  id: string
  userId: string
  epoch: number
  progress: number
  at: number
}

/** A record as a client sees it: with the freshest progress and when it was measured. */
export type DownloadView = Download & { progressAt?: number }

export type ManagerEvent =
  { type: 'download'; download: DownloadView | null } | { type: 'error'; message: string }
export type Listener = (event: ManagerEvent) => void

/** How long a file request waits for a record that may still be replicating here. */
const REPLICATION_WAIT_MS = 750
/** How long a request made here is watched for losing a same-moment race to another. */
const RACE_WATCH_MS = 30_000
export const RACE_LOST_MESSAGE =
  'Another request for a download was made at the same moment and won; showing that download instead.'

export class DownloadManager {
  private readonly supervisor: Supervisor
  /** Progress newer than the last checkpoint, per download id, as local workers report it. */
  private readonly live = new Map<string, { epoch: number; progress: number; at: number }>()
  /** The furthest progress shown to this user's sockets here, so it never moves back. */
  private readonly shown = new Map<string, { id: string; progress: number }>()
  private readonly listeners = new Map<string, Set<Listener>>()
  private readonly lastSent = new Map<string, string>()
  private readonly prefetched = new Set<string>()
  /** Requests made on this node, until they are known to have won (or lost). */
  private readonly racing = new Map<string, { userId: string; createdAt: number; until: number }>()
  private sweepTimer: NodeJS.Timeout | null = null
  private closed = false

  constructor(private readonly o: ManagerOptions) {
    this.supervisor = new Supervisor({
      ...o,
      onProgress: (d, progress) => {
        const tick = { id: d.id, userId: d.userId, epoch: d.epoch, progress, at: o.now() }
        this.onTick(tick)
        o.relay?.publish(tick)
      },
    })
    o.repo.on('change', (users) => this.onChange(users))
    o.relay?.on('progress', (tick) => this.onTick(tick))
  }

  /** Progress from a worker, here or (through the relay) on another node. */
  private onTick(tick: ProgressTick): void {
    const d = this.o.repo.get(tick.id)
    // A late tick from an owner that has since been replaced is ignored.
    if (d && (tick.epoch < d.epoch || !isLive(d))) return
    const known = this.live.get(tick.id)
    if (known && known.epoch === tick.epoch && known.progress >= tick.progress) return
    this.live.set(tick.id, { epoch: tick.epoch, progress: tick.progress, at: tick.at })
    this.notify(tick.userId)
  }

  start(): void {
    this.onChange(new Set(this.o.repo.all().map((d) => d.userId)))
    this.sweepTimer = setInterval(() => this.sweep(), this.o.purgeIntervalMs)
    this.sweepTimer.unref()
  }

  /** The user's download as a client should see it, with the freshest progress known here. */
  current(userId: string): DownloadView | null {
    const d = this.o.repo.forUser(userId)
    if (!d) return null
    if (!isLive(d)) return d
    let view: DownloadView = d
    const tick = this.live.get(d.id)
    if (tick && tick.epoch >= d.epoch && tick.progress > d.progress) {
      view = { ...d, progress: tick.progress, progressAt: tick.at }
    }
    // After a takeover the successor resumes from the last checkpoint, which may be behind what
    // the relay already showed: hold the bar where it was rather than move it back.
    const shown = this.shown.get(userId)
    if (shown?.id === d.id && shown.progress > view.progress)
      view = { ...view, progress: shown.progress }
    return view
  }

  async request(userId: string): Promise<Download> {
    if (this.closed) throw new Error('This node is shutting down; try again in a moment.')
    const now = this.o.now()
    const owner = this.o.placement.ownerFor(userId)
    const download: Download = {
      id: nanoid(),
      userId,
      state: 'pending',
      progress: 0,
      fileUrl: null,
      file: null,
      error: null,
      owner: owner.id,
      ownerName: owner.name,
      epoch: 1,
      version: 1,
      createdAt: now,
      updatedAt: now,
      finishedAt: null,
      expiresAt: now + this.o.liveTtlMs,
      checkpoint: null,
    }
    this.o.log.info('request', { id: download.id, user: userId, owner: owner.name })
    this.racing.set(download.id, { userId, createdAt: now, until: now + RACE_WATCH_MS })
    try {
      await this.o.repo.insert(download)
    } catch (err) {
      this.racing.delete(download.id)
      throw err
    }
    return download
  }

  /** Clears the user's download (cancelling it if it still runs). Returns what was dismissed. */
  async dismiss(userId: string): Promise<Download | null> {
    const d = this.o.repo.forUser(userId)
    if (!d) return null
    await this.o.repo.remove(d)
    for (const [id, race] of this.racing) if (race.userId === userId) this.racing.delete(id)
    this.o.log.info('dismiss', { id: d.id, user: userId, state: d.state })
    return d
  }

  /** The file of a ready download, for its own user only; null if unknown, expired or foreign. */
  async openFile(
    id: string,
    userId: string,
  ): Promise<{ download: Download; file: StoredFile | null } | null> {
    const d = this.o.repo.servable(id) ?? (await this.untilServable(id))
    if (!d || d.userId !== userId || !d.file) return null
    return { download: d, file: await this.o.files.open(d.file) }
  }

  /**
   * A page told "ready" by one node may ask another (behind a load balancer, or after a
   * reconnect) a few milliseconds before the record has replicated there: wait a moment for it
   * rather than answer 404 for a file that exists.
   */
  private untilServable(id: string): Promise<Download | null> {
    return new Promise((resolve) => {
      const check = () => {
        const d = this.o.repo.servable(id)
        if (d) done(d)
      }
      const done = (d: Download | null) => {
        clearTimeout(timer)
        this.o.repo.off('change', check)
        resolve(d)
      }
      const timer = setTimeout(() => done(null), REPLICATION_WAIT_MS)
      this.o.repo.on('change', check)
    })
  }

  subscribe(userId: string, listener: Listener): () => void {
    let set = this.listeners.get(userId)
    if (!set) this.listeners.set(userId, (set = new Set()))
    set.add(listener)
    if (set.size === 1) this.o.relay?.watch(userId)
    return () => {
      if (!set.delete(listener)) return
      if (set.size === 0) {
        this.listeners.delete(userId)
        this.lastSent.delete(userId)
        this.shown.delete(userId)
        this.o.relay?.unwatch(userId)
      }
    }
  }

  /** Live downloads this node is running now. */
  get running(): number {
    return this.supervisor.running
  }

  /** Membership changed: owners may be gone, so successors may have work to take over. */
  membershipChanged(): void {
    if (!this.closed) this.supervisor.reconcileAll()
  }

  /** This node was stalled long enough to have been declared dead: see Supervisor.fence. */
  fence(quietMs: number): void {
    this.o.log.warn('fenced', {
      message: 'this node was stalled; its workers stop until the log shows who owns what',
      quietMs,
    })
    this.supervisor.fence(quietMs)
  }

  private onChange(users: Set<string>): void {
    if (this.closed) return
    this.supervisor.reconcile(users)
    for (const userId of users) {
      this.prefetch(userId)
      this.watchRace(userId)
      this.notify(userId)
    }
  }

  /** Copies each ready file here as soon as it exists, so it outlives the node that made it. */
  private prefetch(userId: string): void {
    const d = this.o.repo.forUser(userId)
    if (d?.file && !this.prefetched.has(d.id)) {
      this.prefetched.add(d.id)
      this.o.files.prefetch(d.file)
    }
  }

  /** Tells the user when a request made here lost a same-moment race to one made elsewhere. */
  private watchRace(userId: string): void {
    const current = this.o.repo.forUser(userId)
    for (const [id, race] of this.racing) {
      if (race.userId !== userId || !current || current.id === id) continue
      // Lost only to one made before (or with) it: a later request means the user moved on.
      if (
        current.createdAt < race.createdAt ||
        (current.createdAt === race.createdAt && current.id < id)
      ) {
        this.racing.delete(id)
        this.o.log.info('race-lost', { id, user: userId, winner: current.id })
        this.emit(userId, { type: 'error', message: RACE_LOST_MESSAGE })
      }
    }
  }

  private emit(userId: string, event: ManagerEvent): void {
    for (const listener of this.listeners.get(userId) ?? []) {
      try {
        listener(event)
      } catch (err) {
        this.o.log.error('listener-failed', { user: userId, error: (err as Error).message })
      }
    }
  }

  private notify(userId: string): void {
    if (!this.listeners.has(userId)) return
    const view = this.current(userId)
    if (view) this.shown.set(userId, { id: view.id, progress: view.progress })
    const key = JSON.stringify(view)
    if (this.lastSent.get(userId) === key) return
    this.lastSent.set(userId, key)
    this.emit(userId, { type: 'download', download: view })
  }

  /** Once a second: purge what expired, forget settled races, and reconcile every worker. */
  private sweep(): void {
    try {
      const now = this.o.now()
      for (const [id, race] of this.racing) if (now > race.until) this.racing.delete(id)
      for (const d of this.o.repo.purge()) {
        this.supervisor.stopExpired(d.id)
        this.prefetched.delete(d.id)
        this.live.delete(d.id)
        if (d.file) {
          this.o.files
            .remove(d.file)
            .catch((err: Error) =>
              this.o.log.error('purge-failed', { id: d.id, error: err.message }),
            )
        }
        this.o.log.info('purged', { id: d.id, user: d.userId, state: d.state })
        this.notify(d.userId)
      }
      this.supervisor.reconcileAll()
    } catch (err) {
      this.o.log.error('sweep-failed', { error: (err as Error).message })
    }
  }

  /** Stops every worker, writing its newest progress first. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.sweepTimer) clearInterval(this.sweepTimer)
    await this.supervisor.close()
  }
}
