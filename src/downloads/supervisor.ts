/**
 * Keeps this node's workers matched to the log: a worker for every live download this node
 * owns (also after a restart), a takeover for every download whose owner is gone and whose
 * successor is this node, and no worker for a download that was dismissed, taken over
 * (a higher epoch), or lost a same-moment race with another request of its user.
 */
import type { Download } from '../store/record.ts'
import { isLive } from '../store/record.ts'
import type { NodeRef } from '../cluster/placement.ts'
import { Worker, type WorkerOptions } from './worker.ts'
import type { RelayedCheckpoint } from '../cluster/relay.ts'
import type { Timer } from '../clock.ts'
import { SetMap } from '../set-map.ts'
import { JobHints } from './job-hints.ts'
import { bugFields } from '../logger.ts'

/** Who takes over a download whose owner is gone (cluster/placement.ts). */
export interface Successors {
  /** Null while the owner is not gone. */
  successorFor(userId: string, ownerId: string): NodeRef | null
  /** False while this node, just restarted, waits to know what happened while it was away. */
  mayWork(): boolean
  /** `mayWork`, once a quorum loss seen now is confirmed or refuted. @default mayWork */
  mayWorkSettled?(): Promise<boolean>
}

export interface SupervisorOptions extends Omit<WorkerOptions, 'download' | 'nodeName'> {
  self: NodeRef
  placement: Successors
  /**
   * Checkpoints other nodes sent here (checkpoint-copies.ts): a takeover resumes from them.
   * And this node's own, from workers stopped to run here again (`cutOff`, `pause`).
   */
  copies?: {
    aheadOf(d: Download): RelayedCheckpoint | null
    offer(copy: RelayedCheckpoint): void
  }
}

export class Supervisor {
  private readonly workers = new Map<string, Worker>()
  /** The same workers by user: a reconcile runs at every change, over every user once a second. */
  private readonly workersOf = new SetMap<string, Worker>()
  private readonly takingOver = new Set<string>()
  /** Users whose download waits out a retry's backoff: when to look again. */
  private readonly retryTimers = new Map<string, Timer>()
  /** While set, this node starts no worker: it was stalled long enough to have been replaced. */
  private quietUntil = 0
  /**
   * Downloads this node owned when it was cut off, and until when they stay stopped once it
   * is back (Infinity while it is still cut off): the others have most likely taken them over,
   * and the record that says so may reach this node a moment after its quorum does.
   */
  private readonly heldBack = new Map<string, number>()
  /** While set, this node must not write (its disk is nearly full): no worker runs. */
  private paused = false
  private closed = false
  private readonly hints: JobHints

  constructor(private readonly o: SupervisorOptions) {
    this.hints = o.hints ?? new JobHints(o.log, o.generator.name)
  }

  get running(): number {
    return this.workers.size
  }

  /** Whether a worker of this node runs the download. */
  runs(id: string): boolean {
    return this.workers.has(id)
  }

  /** Matches the workers of these users to the log. */
  reconcile(users: Iterable<string>): void {
    if (this.closed) return
    for (const userId of users) {
      try {
        this.reconcileUser(userId)
      } catch (err) {
        this.o.log.error('supervise-failed', {
          user: userId,
          ...bugFields(err),
          message:
            "matching this user's download to its worker failed (a bug: please report this line); tried again each second",
        })
      }
    }
  }

  /** Every user with a live download: after a membership change, and once a second. */
  reconcileAll(): void {
    const users = new Set<string>()
    for (const d of this.o.repo.all()) if (isLive(d)) users.add(d.userId)
    for (const w of this.workers.values()) users.add(w.userId)
    this.reconcile(users)
  }

  /**
   * This node's event loop stood still longer than the cluster takes to declare a member
   * dead: its downloads may have been taken over. Stop writing at once, and start nothing
   * until the log has had time to show who owns what now.
   */
  fence(quietMs: number): void {
    this.quietUntil = this.o.clock.now() + quietMs
    for (const w of this.workers.values()) w.stop('fenced')
  }

  /**
   * This node no longer reaches a quorum of its cluster: the others may take its downloads
   * over. Stop at once, without a last write; `reconcileAll` starts them again, from their
   * checkpoints, once it does (mayWork says when).
   */
  cutOff(): void {
    for (const w of this.workers.values()) this.stopToResume(w, 'cut-off')
    // What an earlier cut held back has been settled since, either way.
    this.heldBack.clear()
    for (const d of this.o.repo.all())
      if (d.owner === this.o.self.id && isLive(d)) this.heldBack.set(d.id, Infinity)
  }

  /**
   * Back from a cut: what this node owned when it was cut off resumes only `graceMs` from
   * now, and only if its record still names this node then (the others' takeover, if any,
   * has replicated here by then); everything else runs at once.
   */
  backFromCut(graceMs: number): void {
    const until = this.o.clock.now() + graceMs
    for (const id of this.heldBack.keys()) {
      const d = this.o.repo.get(id)
      // Taken over, finished or dismissed while this node was cut off: nothing to hold.
      if (!d || d.owner !== this.o.self.id || !isLive(d)) this.heldBack.delete(id)
      else this.heldBack.set(id, until)
    }
    this.reconcileAll()
  }

  /** Stops every worker without a last write, and starts none until `resume`. */
  pause(): void {
    this.paused = true
    for (const w of this.workers.values()) this.stopToResume(w, 'paused')
  }

  /**
   * Stops a worker whose download may run here again (back from a cut, or from a pause),
   * keeping its newest checkpoint for that run: the log's is up to `--log-checkpoint-ms` of
   * work behind, and the successors that hold the rest may be the nodes that went away.
   */
  private stopToResume(w: Worker, reason: 'cut-off' | 'paused'): void {
    this.o.copies?.offer(w.newest())
    w.stop(reason)
  }

  /** Workers start again, each from its download's last checkpoint. */
  resume(): void {
    this.paused = false
    this.reconcileAll()
  }

  private reconcileUser(userId: string): void {
    const current = this.o.repo.forUser(userId)
    for (const worker of this.workersOf.get(userId)) {
      const d = this.o.repo.get(worker.id)
      if (!d) worker.stop('dismissed')
      else if (d.epoch > worker.epoch || d.owner !== this.o.self.id) worker.stop('fenced')
      else if (current && current.id !== d.id) worker.stop('superseded')
    }
    // Only once this node may act: just restarted, its table may still hold a download its
    // cluster dismissed while it was down, older than the user's new request and so preferred
    // to it; dropping the request then lost it (seen in the soak's chaos, every kill).
    if (this.o.placement.mayWork()) this.dropSuperseded(userId, current)
    if (!current || !isLive(current)) return
    if (this.paused || this.o.clock.now() < this.quietUntil || !this.o.placement.mayWork()) return
    // A retry waits out its backoff wherever it runs next: here, or at a successor.
    const waitMs = current.retryAt === null ? 0 : current.retryAt - this.o.repo.now()
    if (waitMs > 0) return this.lookAgain(userId, waitMs)
    if (current.owner === this.o.self.id) {
      const until = this.heldBack.get(current.id)
      if (until !== undefined && this.o.clock.now() < until) return
      this.heldBack.delete(current.id)
      return this.ensureWorker(current)
    }
    const successor = this.o.placement.successorFor(userId, current.owner)
    if (successor?.id === this.o.self.id) void this.takeOver(current)
  }

  private lookAgain(userId: string, waitMs: number): void {
    const previous = this.retryTimers.get(userId)
    if (previous !== undefined) this.o.clock.clearTimeout(previous)
    const timer = this.o.clock.setTimeout(() => {
      this.retryTimers.delete(userId)
      this.reconcile([userId])
    }, waitMs)
    this.retryTimers.set(userId, timer)
  }

  /** Two requests of one user raced: the owner of the losing record dismisses it everywhere. */
  private dropSuperseded(userId: string, current: Download | null): void {
    if (!current) return
    for (const d of this.o.repo.ofUser(userId)) {
      if (d.id === current.id || d.owner !== this.o.self.id || !isLive(d)) continue
      this.o.log.info('superseded', { id: d.id, user: userId, by: current.id })
      this.o.repo.remove(d).catch((err: Error) =>
        this.o.log.warn('remove-failed', {
          id: d.id,
          user: userId,
          by: current.id,
          error: err.message,
          message:
            'could not remove a download superseded by a newer one; tried again at the next check, each second',
        }),
      )
    }
  }

  private async takeOver(d: Download): Promise<void> {
    if (this.takingOver.has(d.id)) return
    this.takingOver.add(d.id)
    try {
      const now = this.o.repo.now()
      // The freshest checkpoint wins: the copy the owner sent here, or the log's.
      const copy = this.o.copies?.aheadOf(d)
      const next: Download = {
        ...d,
        ...(copy && { progress: copy.progress, checkpoint: copy.checkpoint }),
        // It runs here from now on: the page says so before the first tick.
        state: 'processing',
        retryAt: null,
        owner: this.o.self.id,
        ownerName: this.o.self.name,
        epoch: d.epoch + 1,
        version: d.version + 1,
        updatedAt: now,
        expiresAt: now + this.o.liveTtlMs,
      }
      this.o.log.info('takeover', {
        id: d.id,
        user: d.userId,
        from: d.ownerName,
        epoch: next.epoch,
        at: `${next.progress}%`,
        checkpoint: copy ? 'relayed' : 'log',
      })
      const winner = await this.o.repo.update(next)
      if (winner?.epoch === next.epoch && winner.owner === next.owner)
        this.o.observer?.tookOver(d.ownerName, next.progress)
      // The change event that follows starts the worker (owner is now this node).
    } catch (err) {
      this.o.log.warn('takeover-failed', {
        id: d.id,
        user: d.userId,
        from: d.ownerName,
        error: (err as Error).message,
        message: 'could not take the download over; tried again at the next check, each second',
      })
    } finally {
      this.takingOver.delete(d.id)
    }
  }

  private ensureWorker(d: Download): void {
    if (this.workers.has(d.id)) return
    // Its own worker's newest checkpoint (`stopToResume`), when the log's is behind it. Only
    // this node's workers make checkpoints of an epoch that names it as the owner.
    const copy = this.o.copies?.aheadOf(d)
    const from = copy?.epoch === d.epoch ? copy : null
    const worker = new Worker({
      ...this.o,
      download: from ? { ...d, progress: from.progress, checkpoint: from.checkpoint } : d,
      nodeName: this.o.self.name,
      hints: this.hints,
      mayAct: () => this.o.placement.mayWork(),
      mayActSettled: async () =>
        (await this.o.placement.mayWorkSettled?.()) ?? this.o.placement.mayWork(),
    })
    this.workers.set(d.id, worker)
    this.workersOf.add(d.userId, worker)
    void worker.done.then(() => {
      if (this.workers.get(d.id) === worker) this.workers.delete(d.id)
      this.workersOf.delete(d.userId, worker)
    })
  }

  stopExpired(id: string): void {
    this.workers.get(id)?.stop('expired')
  }

  /** Stops every worker, each writing its newest progress first. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const timer of this.retryTimers.values()) this.o.clock.clearTimeout(timer)
    this.retryTimers.clear()
    await Promise.all([...this.workers.values()].map((w) => w.stopAndCheckpoint()))
  }
}
