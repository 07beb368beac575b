/**
 * The download manager: the contract the web layer calls (service.ts), composed of the
 * request admission (whether this node takes a request now), the supervisor (a worker for
 * every download this node owns), the progress feed (what each socket here is sent), the race
 * watch (telling a user whose request lost) and the housekeeper (file copies and purges).
 */
import { nanoid } from 'nanoid'
import { isBlobRef, isLive, type Download, type Params } from '../store/record.ts'
import type { NodeRef } from '../cluster/placement.ts'
import type { ProgressTick, RelayedCheckpoint } from '../cluster/relay.ts'
import type { QuorumState } from '../cluster/quorum.ts'
import type { InsertResult } from '../store/repository.ts'
import { DownloadConflictError, RACE_LOST_MESSAGE, TooManyActionsError } from './errors.ts'
import { RequestAdmission, type StorageProblem } from './request-admission.ts'
import { TokenBuckets } from '../token-bucket.ts'
import { bugFields } from '../logger.ts'
import { Housekeeper } from './housekeeper.ts'
import { CheckpointCopies } from './checkpoint-copies.ts'
import { ProgressFeed, type Interest } from './progress-feed.ts'
import { RaceWatch } from './race-watch.ts'
import { ServableWait } from './servable-wait.ts'
import { Supervisor, type SupervisorOptions, type Successors } from './supervisor.ts'
import type { DownloadService, DownloadView, Listener, OpenedFile } from './service.ts'

/** Live progress and checkpoints between nodes (cluster/relay.ts); absent on a node without peers. */
export interface ProgressRelay extends Interest {
  publish(tick: ProgressTick): void
  on(event: 'progress', listener: (tick: ProgressTick) => void): unknown
  sendCheckpoint(memberIds: readonly string[], copy: RelayedCheckpoint): number
  on(event: 'checkpoint', listener: (copy: RelayedCheckpoint) => void): unknown
}

/** See ManagerOptions.backFromCutGraceMs. */
const BACK_FROM_CUT_GRACE_MS = 2000

/** How many successors hold a copy of each checkpoint: the log's is needed only if all die. */
const CHECKPOINT_COPIES = 2

/** Where new downloads go (cluster/placement.ts). */
export interface Owners {
  ownerFor(userId: string): NodeRef
}

export type { StorageProblem }

export interface ManagerOptions extends Omit<
  SupervisorOptions,
  'onProgress' | 'onCheckpoint' | 'placement' | 'copies'
> {
  placement: Successors &
    Owners & {
      successorsOf(userId: string, count: number): string[]
      keepsFileCopy(userId: string, makerId: string, copies: number): boolean
      liveIds(): string[]
    }
  /**
   * Resolves once what this node started writing so far was sent to its peers
   * (cluster/record-broadcast.ts, `told`). @default at once (a node alone)
   */
  peersTold?: () => Promise<void>
  /** How many nodes besides its maker keep a copy of each file (--file-copies). */
  fileCopies: number
  relay?: ProgressRelay
  /** How often expired records are purged and every worker is reconciled. @default 1000 */
  purgeIntervalMs?: number
  /** How long a file request waits for a record that may still be replicating here. @default 750 */
  replicationWaitMs?: number
  /** How long a request made here is watched for losing a same-moment race. @default 30000 */
  raceWatchMs?: number
  /** Requests and dismissals one user may make at once. @default 10 */
  actionBurst?: number
  /** Then one more every this many ms. @default 2000 (30 a minute) */
  actionIntervalMs?: number
  /** Whether record time may be stamped on yet (request-admission.ts). @default yes */
  timeTrusted?: () => boolean
  /**
   * Back from a cut, how long the downloads this node owned stay stopped, so that a takeover
   * made meanwhile replicates here before they would resume. @default 2000
   */
  backFromCutGraceMs?: number
  /** This node's quorum now (cluster/quorum-watch.ts). @default always held */
  quorum?: () => QuorumState
  /** Without its quorum, whether it is cut off or still (re)joining (request-admission.ts). */
  cutOff?: () => boolean
  /** How many attempts a download requested here may take in all (--attempts). @default 3 */
  attempts?: number
}

export class DownloadManager implements DownloadService {
  private readonly supervisor: Supervisor
  private readonly feed: ProgressFeed
  private readonly races: RaceWatch
  private readonly admission: RequestAdmission
  /** Requests and dismissals per user: a flood costs a bounded number of writes and workers. */
  private readonly actions: TokenBuckets
  private readonly housekeeper: Housekeeper
  /** Other nodes' checkpoints of downloads this node would take over. */
  private readonly copies = new CheckpointCopies()
  /** File requests waiting for their record to replicate here. */
  private readonly files: ServableWait
  private storageProblem: StorageProblem | null = null
  private readonly watchers = new Set<(userId: string) => void>()
  private closed = false

  constructor(private readonly o: ManagerOptions) {
    const {
      repo,
      relay,
      clock,
      log,
      purgeIntervalMs = 1000,
      replicationWaitMs = 750,
      raceWatchMs = 30_000,
      actionBurst = 10,
      actionIntervalMs = 2000,
    } = o
    this.files = new ServableWait(repo, clock, replicationWaitMs)
    this.feed = new ProgressFeed({ records: repo, interest: relay, log })
    this.races = new RaceWatch(clock, raceWatchMs)
    this.admission = new RequestAdmission(o)
    this.actions = new TokenBuckets({ burst: actionBurst, intervalMs: actionIntervalMs, clock })
    this.supervisor = new Supervisor({
      ...o,
      copies: this.copies,
      onProgress: (d, progress) => {
        const tick = { id: d.id, userId: d.userId, epoch: d.epoch, progress, at: repo.now() }
        this.feed.tick(tick)
        relay?.publish(tick)
      },
      onCheckpoint: (copy) =>
        relay?.sendCheckpoint(o.placement.successorsOf(copy.userId, CHECKPOINT_COPIES), copy) ?? 0,
    })
    this.housekeeper = new Housekeeper({
      records: repo,
      files: o.files,
      // The file's maker: the owner that made it ready (a v8 file also names it).
      keepsCopy: (d) =>
        o.placement.keepsFileCopy(
          d.userId,
          d.file && !isBlobRef(d.file) ? d.file.node : d.owner,
          o.fileCopies,
        ),
      liveMembers: () => o.placement.liveIds().join(),
      mayCopy: () => this.storageProblem === null,
      clock,
      intervalMs: purgeIntervalMs,
      log,
      onPurged: (d) => {
        this.supervisor.stopExpired(d.id)
        this.copies.forget(d.id)
        this.feed.forget(d.id)
        this.feed.notify(d.userId)
      },
      onSweep: () => {
        this.races.expire()
        this.supervisor.reconcileAll()
      },
    })
    repo.on('change', (users) => this.onChange(users))
    relay?.on('progress', (tick) => {
      o.observer?.relayed(Math.max(0, repo.now() - tick.at) / 1000)
      this.feed.tick(tick)
    })
    relay?.on('checkpoint', (copy) => this.copies.offer(copy))
  }

  /** Starts the workers this node owns (after a restart too) and the sweep. */
  start(): void {
    this.onChange(new Set(this.o.repo.all().map((d) => d.userId)))
    this.housekeeper.start()
  }

  current(userId: string): DownloadView | null {
    return this.feed.current(userId)
  }

  subscribe(userId: string, listener: Listener): void {
    this.feed.subscribe(userId, listener)
  }

  unsubscribe(userId: string, listener: Listener): void {
    this.feed.unsubscribe(userId, listener)
  }

  async request(userId: string, params: Params = {}): Promise<DownloadView> {
    await this.admission.check(userId, params, {
      closed: this.closed,
      storage: this.storageProblem,
    })
    this.takeAction(userId)
    const now = this.o.repo.now()
    const owner = this.o.placement.ownerFor(userId)
    const download: Download = {
      id: nanoid(),
      userId,
      state: 'pending',
      progress: 0,
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
      params,
      attempt: 1,
      attempts: this.o.attempts ?? 3,
      retryAt: null,
    }
    this.o.log.info('request', { id: download.id, user: userId, owner: owner.name })
    // Shown once its peers were sent it, not the moment it is merged here: a node killed in
    // between showed its user a request no other node had heard of, which then vanished (a
    // chaos soak, once in 16,724). Sent, it reaches them: they write it if this node is gone.
    this.feed.hold(userId)
    let result: InsertResult
    try {
      result = await this.o.repo.insert(download)
      if (result.inserted) await this.o.peersTold?.()
    } finally {
      this.feed.release(userId)
    }
    if (!result.inserted) throw new DownloadConflictError(result.existing)
    // Watched only once merged: a request refused here has no race to lose. One made
    // elsewhere may already have arrived with the write, so look at once too.
    this.o.observer?.requested()
    this.races.track(download)
    this.tellRaceLost(userId)
    return download
  }

  async dismiss(userId: string): Promise<DownloadView | null> {
    this.takeAction(userId)
    const d = this.o.repo.forUser(userId)
    if (!d) return null
    // As the user saw it: a running download's progress travels beside the log, whose record
    // may still say pending at 0 %.
    const shown = this.feed.current(userId) ?? d
    await this.o.repo.remove(d)
    this.races.settle(userId)
    this.o.log.info('dismiss', {
      id: d.id,
      user: userId,
      state: shown.state,
      at: `${shown.progress}%`,
    })
    return d
  }

  private takeAction(userId: string): void {
    const waitMs = this.actions.take(userId)
    if (waitMs > 0) throw new TooManyActionsError(waitMs)
  }

  async openFile(id: string, userId: string): Promise<OpenedFile | 'not-ready' | null> {
    const d = await this.files.servable(id)
    if (!d) {
      const made = this.o.repo.get(id)
      return made?.userId === userId && isLive(made) ? 'not-ready' : null
    }
    if (d.userId !== userId || !d.file) return null
    const { filename, contentType } = d.file
    return { id: d.id, filename, contentType, content: await this.o.files.open(d.file) }
  }

  /** What the page calls the file this node's job makes. */
  get fileLabel(): string {
    return this.o.generator.label ?? 'file'
  }

  /** Live downloads this node is running now. */
  get running(): number {
    return this.supervisor.running
  }

  /**
   * The download's state as far as this node can tell: the log's record stays `pending` while
   * its worker runs (progress travels beside the log), so a record is `processing` here once a
   * worker runs it here, its ticks reached this node, or a checkpoint copy of it did (the nodes
   * next in line hold them). A worker on a node none of those reach, before its first copy, is
   * still told as pending.
   */
  stateOf(d: Download): Download['state'] {
    if (d.state !== 'pending') return d.state
    const working =
      this.supervisor.runs(d.id) || this.feed.started(d) || this.copies.aheadOf(d) !== null
    return working ? 'processing' : 'pending'
  }

  /** Membership changed: owners may be gone, so successors may have work to take over. */
  membershipChanged(): void {
    if (!this.closed) this.supervisor.reconcileAll()
  }

  /**
   * A member joined or came back (a restart, say): the copies this node holds of checkpoints
   * of downloads that member owns go back to it. A restarted owner that nobody took over from
   * (its successors down or cut off meanwhile) then resumes from where its worker was, not
   * from the log's older checkpoint: its own copies died with it.
   */
  memberBack(memberId: string): void {
    if (this.closed || !this.o.relay) return
    for (const copy of this.copies.held()) {
      const d = this.o.repo.get(copy.id)
      if (!d || !isLive(d) || d.owner !== memberId || d.epoch !== copy.epoch) continue
      if (copy.progress > d.progress) this.o.relay.sendCheckpoint([memberId], copy)
    }
  }

  /**
   * The disk is nearly full, or the store failed (or all is well again): new downloads are
   * refused and workers pause, then resume from their checkpoints. Dismissals and purges go on:
   * they free space.
   */
  storage(problem: StorageProblem | null): void {
    if (problem === this.storageProblem || this.closed) return
    const was = this.storageProblem
    this.storageProblem = problem
    if (problem && !was) this.supervisor.pause()
    else if (!problem) {
      this.supervisor.resume()
      // The copies of files this node keeps, skipped while it had no room.
      this.housekeeper.copyAgain()
    }
  }

  /**
   * The quorum was lost (the others may take this node's downloads over: its workers stop at
   * once) or regained (they resume from their checkpoints, unless taken over meanwhile).
   */
  quorumChanged(state: QuorumState): void {
    if (this.closed) return
    if (state.ok) this.supervisor.backFromCut(this.o.backFromCutGraceMs ?? BACK_FROM_CUT_GRACE_MS)
    else this.supervisor.cutOff()
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
      this.housekeeper.prefetch(this.o.repo.forUser(userId))
      this.tellRaceLost(userId)
      this.feed.notify(userId)
      for (const watcher of this.watchers) {
        // An app's listener that throws must not stop the log being read.
        try {
          watcher(userId)
        } catch (err) {
          this.o.log.error('watcher-failed', {
            user: userId,
            ...bugFields(err),
            message:
              "a listener of this node's downloads threw (with createNode: one passed to onDownload); the others were told",
          })
        }
      }
    }
  }

  /** Calls `listener` with the user of every download that changes, anywhere in the cluster. */
  watch(listener: (userId: string) => void): () => void {
    this.watchers.add(listener)
    return () => this.watchers.delete(listener)
  }

  /** Tells the user's sockets here when a request made here lost to one made elsewhere. */
  private tellRaceLost(userId: string): void {
    const current = this.o.repo.forUser(userId)
    for (const id of this.races.lost(userId, current)) {
      this.o.log.info('race-lost', { id, user: userId, winner: current?.id })
      this.feed.emit(userId, { type: 'error', message: RACE_LOST_MESSAGE })
    }
  }

  /** Stops every worker, writing its newest progress first. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.housekeeper.stop()
    await this.supervisor.close()
  }
}
