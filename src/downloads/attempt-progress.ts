/**
 * Where one attempt's progress goes as its job reports it (worker.ts): every report that moves
 * it, to the page at once; a checkpoint every step, to the successors (the nodes that would
 * take the download over); and to the log only as the pace says (checkpoint-pace.ts): a step
 * no successor took, and at least once an interval whatever the job reports, which renews the
 * record's lease. Log writes queue one behind the other, the newest only.
 */
import type { Checkpoint, Download } from '../store/record.ts'
import type { RelayedCheckpoint } from '../cluster/relay.ts'
import { CheckpointPace } from './checkpoint-pace.ts'
import { readReport } from './progress-report.ts'
import type { JobHints } from './job-hints.ts'
import type { DownloadObserver } from './observer.ts'
import type { Clock } from '../clock.ts'

export interface AttemptProgressOptions {
  /** The attempt's record as last written. */
  current(): Download
  /** Set once the attempt's outcome is known: a late checkpoint would undo it. */
  decided(): boolean
  /** Aborted once the attempt is stopped: its reports no longer count. */
  signal: AbortSignal
  /** A bad report: the job's bug, which fails the attempt (a throw would reach its callback). */
  misused(problem: string): void
  /** Writes a checkpoint to the log, fenced as every write of the attempt. */
  write(patch: Partial<Download>): Promise<void>
  clock: Clock
  /** Record time (cluster time). */
  now(): number
  liveTtlMs: number
  /** Percent of progress between two checkpoints sent to the successors. */
  step: number
  /** The longest time between two checkpoints written to the log. */
  logEveryMs: number
  onProgress(download: Download, progress: number): void
  /** Sends a checkpoint to the successors; returns how many took it (0: the log must). */
  onCheckpoint?(copy: RelayedCheckpoint): number
  /** Whether this node may act for the cluster now (worker.ts). */
  mayAct?(): boolean
  hints?: JobHints
  observer: DownloadObserver
}

export class AttemptProgress {
  /** The newest progress acted on: shown, sent or written. */
  progress: number
  /** The job's newest report, ahead of the last checkpoint written. */
  latest: { progress: number; checkpoint: Download['checkpoint'] }
  private readonly pace: CheckpointPace
  private pending: Partial<Download> | null = null
  private queue: Promise<void> = Promise.resolve()
  /** Whether the first progress of a fresh download is still to come here (its wait). */
  private firstOfFresh: boolean

  constructor(private readonly o: AttemptProgressOptions) {
    const d = o.current()
    this.progress = d.progress
    this.latest = { progress: d.progress, checkpoint: d.checkpoint }
    this.pace = new CheckpointPace({
      step: o.step,
      logEveryMs: o.logEveryMs,
      progress: d.progress,
      now: o.clock.now(),
    })
    this.firstOfFresh = d.attempt === 1 && d.epoch === 1 && d.progress === 0
  }

  /** Resolves once the checkpoint writes queued so far are done. */
  written(): Promise<void> {
    return this.queue
  }

  report(reported: number, given: Checkpoint): void {
    const { o } = this
    if (o.decided()) return
    const read = readReport(reported, given)
    if ('problem' in read) return o.misused(read.problem)
    const d = o.current()
    o.hints?.reported(reported, d.id)
    const { progress, checkpoint } = read
    if (o.signal.aborted || progress <= this.progress) {
      // Progress that does not move still carries the newest resume state.
      if (!o.signal.aborted && progress === this.progress) this.latest = { progress, checkpoint }
      return
    }
    // Not now: the quorum watch stops this worker once the loss is confirmed; after a false
    // alarm (a stall of this node's own loop) the next report carries newer state anyway.
    if (o.mayAct && !o.mayAct()) return
    if (this.firstOfFresh) {
      this.firstOfFresh = false
      o.observer.waited(Math.max(0, o.now() - d.createdAt) / 1000)
    }
    this.progress = progress
    this.latest = { progress, checkpoint }
    o.onProgress(d, progress)
    let copied = true
    if (this.pace.copyDue(progress)) {
      const { id, userId, epoch } = d
      copied = (o.onCheckpoint?.({ id, userId, epoch, progress, checkpoint }) ?? 0) > 0
    }
    if (this.pace.writeDue(progress, copied, o.clock.now())) this.enqueue()
  }

  /**
   * Renews the record's lease on time, whatever the job reports: a download whose percent
   * stays put for longer than the lease (a slow step of a long job, or a job that has not
   * reported yet) must not expire while its worker runs.
   */
  renewLease(): void {
    const { o } = this
    if (o.decided() || o.signal.aborted) return
    if (o.mayAct && !o.mayAct()) return
    if (this.pace.leaseDue(o.clock.now())) this.enqueue()
  }

  /** The newest report to the log, behind the write under way: only the newest waits. */
  private enqueue(): void {
    const { o } = this
    const queued = this.pending !== null
    this.pending = {
      state: 'processing',
      ...this.latest,
      expiresAt: o.now() + o.liveTtlMs,
    }
    if (queued) return
    this.queue = this.queue.then(async () => {
      const patch = this.pending
      this.pending = null
      if (patch && !o.signal.aborted && !o.decided()) await o.write(patch).catch(() => {})
    })
  }
}
