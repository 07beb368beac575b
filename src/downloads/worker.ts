/**
 * One attempt at one download on this node: runs the job (job-run.ts), sends its progress
 * where it goes as it comes (attempt-progress.ts: the page, the successors, and the log only
 * as a fallback and to renew the lease), and writes the attempt's decisions to the log (ready,
 * a retry, an error). Every write is fenced: one that lost to a dismissal or a takeover stops
 * the worker. Record times (updatedAt, expiry) are the repository's cluster time; only the
 * pace of checkpoints is this node's clock.
 */
import { isLive, safeFileName, type Download } from '../store/record.ts'
import type { DownloadRepository } from '../store/repository.ts'
import type { FileStore } from '../store/file-store.ts'
import type { Generator } from './generator.ts'
import { runJob } from './job-run.ts'
import { retryDelayMs } from './retry-policy.ts'
import { AttemptProgress } from './attempt-progress.ts'
import { ReportMisuse } from './progress-report.ts'
import type { JobHints } from './job-hints.ts'
import { STOP_GRACE_MS } from './stop-grace.ts'
import { noObserver, type DownloadObserver } from './observer.ts'
import type { Logger } from '../logger.ts'
import { settlesWithin, type Clock, type Timer } from '../clock.ts'
import type { RelayedCheckpoint } from '../cluster/relay.ts'

export type StopReason =
  'dismissed' | 'fenced' | 'superseded' | 'shutdown' | 'expired' | 'paused' | 'cut-off'

export interface WorkerOptions {
  download: Download
  generator: Generator
  repo: DownloadRepository
  files: FileStore
  /** The node running this attempt, for the generator. */
  nodeName: string
  clock: Clock
  liveTtlMs: number
  retentionMs: number
  /** Percent of progress between two checkpoints sent to the successors. */
  checkpointStep: number
  /** The least time between two checkpoints written to the log. */
  logCheckpointMs: number
  /** The first wait before a retry (retry-policy.ts). @default 1000 */
  retryMs?: number
  /** Tests only: the retry delay's jitter. @default Math.random */
  random?: () => number
  /** Told of completions, failures and the first progress (metrics.ts). */
  observer?: DownloadObserver
  onProgress: (download: Download, progress: number) => void
  /** Sends a checkpoint to the successors; returns how many took it (0: the log must). */
  onCheckpoint?: (copy: RelayedCheckpoint) => number
  /**
   * Whether this node may still act for the cluster (its quorum's lease, placement.ts): asked
   * before every report and write, so a node cut off publishes and writes nothing, before the
   * others take the download over, even if the event that stops the worker comes late.
   * @default always
   */
  mayAct?: () => boolean
  /**
   * `mayAct` once a loss it saw is confirmed or refuted, a turn of the event loop later
   * (quorum-watch.ts): a write waits for it rather than stop on a false alarm.
   * @default mayAct's answer
   */
  mayActSettled?: () => Promise<boolean>
  /** Told of every report, to say once what a job's author likely did not mean (job-hints.ts). */
  hints?: JobHints
  log: Logger
}

/** How long a shutdown waits for a job to end before it writes the job's newest progress. */
const SHUTDOWN_WAIT_MS = 300

const sameVersion = (a: Download | null, b: Download) =>
  a !== null && a.epoch === b.epoch && a.version === b.version

class Stopped extends Error {
  constructor(readonly reason: StopReason) {
    super(`stopped: ${reason}`)
  }
}

export class Worker {
  /** The latest write this worker made (or started from). */
  private current: Download
  private readonly controller = new AbortController()
  /**
   * Set once the attempt's outcome is known (ready, a retry, an error): no checkpoint may be
   * written after it, or a late one would turn the outcome back into `processing`.
   */
  private decided = false
  /** Where the job's reports go: the page, the successors, the log. */
  private readonly progress: AttemptProgress
  readonly done: Promise<void>
  /** This node's clock when this attempt began: how long its work took. */
  private readonly startedAt: number

  constructor(private readonly o: WorkerOptions) {
    this.current = o.download
    const logEveryMs = Math.min(o.logCheckpointMs, o.liveTtlMs / 3)
    this.progress = new AttemptProgress({
      current: () => this.current,
      decided: () => this.decided,
      signal: this.controller.signal,
      misused: (problem) => {
        if (!this.controller.signal.aborted) this.controller.abort(new ReportMisuse(problem))
      },
      write: (patch) => this.write(patch),
      clock: o.clock,
      now: () => o.repo.now(),
      liveTtlMs: o.liveTtlMs,
      step: o.checkpointStep,
      logEveryMs,
      onProgress: o.onProgress,
      ...(o.onCheckpoint && { onCheckpoint: o.onCheckpoint }),
      ...(o.mayAct && { mayAct: o.mayAct }),
      ...(o.hints && { hints: o.hints }),
      observer: this.observer,
    })
    this.startedAt = o.clock.now()
    this.done = this.run(logEveryMs).catch((err: Error) => {
      o.log.error('worker-failed', { id: this.current.id, error: err.message })
    })
  }

  private get observer(): DownloadObserver {
    return this.o.observer ?? noObserver
  }

  get id(): string {
    return this.current.id
  }

  get userId(): string {
    return this.current.userId
  }

  get epoch(): number {
    return this.current.epoch
  }

  /** The newest checkpoint the job reported and this worker acted on (sent, or written). */
  newest(): RelayedCheckpoint {
    const { id, userId, epoch } = this.current
    return { id, userId, epoch, ...this.progress.latest }
  }

  stop(reason: StopReason): void {
    if (!this.controller.signal.aborted) this.controller.abort(new Stopped(reason))
  }

  /**
   * Writes the newest progress before a clean shutdown, so a restart loses as little as
   * possible. The job is given `waitMs` to end: one that does not watch its signal must not
   * hold the node's shutdown, nor keep its progress from the log.
   */
  async stopAndCheckpoint(waitMs = SHUTDOWN_WAIT_MS): Promise<void> {
    this.stop('shutdown')
    await settlesWithin(this.o.clock, waitMs, this.done)
    // An outcome being written is waited for: it is the attempt's, not the job's.
    if (this.decided) await this.done
    await this.progress.written()
    const { progress, checkpoint } = this.progress.latest
    if (progress > this.current.progress && isLive(this.current)) {
      await this.write({ state: 'processing', progress, checkpoint }).catch(() => {})
    }
  }

  private async run(leaseEveryMs: number): Promise<void> {
    const { o } = this
    const signal = this.controller.signal
    const resumed = this.current.state === 'processing' || this.current.progress > 0
    o.log.info(resumed ? 'resume' : 'start', {
      id: this.id,
      user: this.current.userId,
      from: `${this.current.progress}%`,
    })
    let lease: Timer | null = null
    try {
      // Starting is not a decision the log needs: the record already names this node, and its
      // progress travels beside the log. Only a lease running short (a download resumed after
      // a restart) is renewed before the work; otherwise the first fallback checkpoint does.
      // A retry that waited out its backoff says it runs (the page stops counting down).
      if (this.current.retryAt !== null)
        await this.write({
          state: 'processing',
          retryAt: null,
          expiresAt: o.repo.now() + o.liveTtlMs,
        })
      else if (this.current.expiresAt - o.repo.now() < (o.liveTtlMs * 2) / 3)
        await this.write({ state: 'processing', expiresAt: o.repo.now() + o.liveTtlMs })
      // From here on the lease is renewed on time (attempt-progress.ts), looked at twice an
      // interval: at most 1.5 intervals (half the lease) after the last write. Not before the
      // write above, which would race it.
      lease = o.clock.setInterval(() => this.progress.renewLease(), leaseEveryMs / 2)
      const made = await runJob({
        generator: o.generator,
        files: o.files,
        job: {
          id: this.id,
          userId: this.current.userId,
          params: this.current.params,
          createdAt: this.current.createdAt,
          progress: this.current.progress,
          checkpoint: this.current.checkpoint,
          attempt: this.current.attempt,
          nodeName: o.nodeName,
        },
        signal,
        report: (progress, checkpoint) => this.progress.report(progress, checkpoint),
        clock: o.clock,
        settled: () => this.progress.written(),
        onIgnoredStop: () =>
          o.log.warn('job-ignored-stop', {
            id: this.id,
            job: o.generator.name,
            reason: signal.reason instanceof Stopped ? signal.reason.reason : 'bad report',
            waitedMs: STOP_GRACE_MS,
            hint: 'run() must end once ctx.signal is aborted: this one goes on unseen, and what it makes is dropped',
          }),
      })
      if ('failed' in made) {
        const { failed: message, where, retry } = made
        return await (retry ? this.failed(message, where) : this.fail(message, where))
      }
      const { stored: ref, file } = made
      this.decided = true
      await this.progress.written()
      const at = o.repo.now()
      await this.write({
        state: 'ready',
        progress: 100,
        file: { ...ref, filename: safeFileName(file.filename), contentType: file.contentType },
        error: null,
        finishedAt: at,
        expiresAt: at + o.retentionMs,
        checkpoint: null,
      })
      const workMs = o.clock.now() - this.startedAt
      this.observer.completed(workMs / 1000)
      o.log.info('ready', {
        id: this.id,
        // The file's lines (copies, fetches) name it: a grep for the id leads to them.
        ...('name' in ref && { file: ref.name }),
        bytes: ref.byteLength,
        attempt: this.current.attempt,
        workMs,
      })
    } catch (err) {
      await this.progress.written()
      const reason = this.stopReason(err)
      if (reason) {
        o.log.info('stopped', { id: this.id, reason, at: `${this.progress.progress}%` })
        return
      }
      // The log or the file store failed, not the work: leave the record as it is; the
      // manager's supervisor starts a new attempt from the last checkpoint.
      o.log.warn('worker-halted', { id: this.id, error: (err as Error).message })
    } finally {
      if (lease !== null) o.clock.clearInterval(lease)
    }
  }

  private stopReason(err: unknown): StopReason | null {
    if (err instanceof Stopped) return err.reason
    const reason = this.controller.signal.reason
    return this.controller.signal.aborted && reason instanceof Stopped ? reason.reason : null
  }

  /**
   * The generator threw (`where`: in its own code, for its author): try again later from the
   * newest checkpoint, or fail for good.
   */
  private async failed(message: string, where?: string): Promise<void> {
    const { attempt, attempts } = this.current
    if (attempt >= attempts) return this.fail(message, where)
    this.decided = true
    await this.progress.written()
    const delayMs = retryDelayMs(attempt, this.o.retryMs ?? 1000, this.o.random)
    const at = this.o.repo.now()
    this.o.log.warn('retry', {
      id: this.id,
      error: message,
      ...(where && { thrownAt: where }),
      attempt: `${attempt + 1}/${attempts}`,
      inMs: delayMs,
      from: `${this.progress.latest.progress}%`,
    })
    await this.write({
      state: 'pending',
      attempt: attempt + 1,
      retryAt: at + delayMs,
      error: message,
      progress: this.progress.latest.progress,
      checkpoint: this.progress.latest.checkpoint,
      expiresAt: at + delayMs + this.o.liveTtlMs,
    })
  }

  private async fail(message: string, where?: string): Promise<void> {
    this.o.log.warn('failed', {
      id: this.id,
      error: message,
      ...(where && { thrownAt: where }),
      attempt: this.current.attempt,
    })
    this.observer.failed()
    this.decided = true
    await this.progress.written()
    const at = this.o.repo.now()
    await this.write({
      state: 'error',
      error: message,
      finishedAt: at,
      expiresAt: at + this.o.retentionMs,
      checkpoint: null,
    })
  }

  /** Writes the next version; stops the worker if the write lost (dismissed or taken over). */
  private async write(patch: Partial<Download>): Promise<void> {
    if (this.o.mayAct && !this.o.mayAct() && !(await this.o.mayActSettled?.())) {
      this.stop('cut-off')
      throw new Stopped('cut-off')
    }
    const next: Download = {
      ...this.current,
      ...patch,
      version: this.current.version + 1,
      updatedAt: this.o.repo.now(),
    }
    this.current = next
    let asMerged: Download | null = null
    const winner = await this.o.repo.update(next, (w) => (asMerged = w))
    if (!winner) {
      // Ready, then dismissed while the write was on its way to the disk: the user saw it
      // ready (and may have taken the file) before dismissing it. A completion, not a stop.
      if (next.state === 'ready' && sameVersion(asMerged, next)) return
      this.stop('dismissed')
      throw new Stopped('dismissed')
    }
    if (winner.epoch !== next.epoch || winner.version !== next.version) {
      this.stop('fenced')
      throw new Stopped('fenced')
    }
  }
}
