/**
 * When a worker's progress leaves the node (pure; worker.ts asks at every report). Every
 * `step` percent a checkpoint goes to the successors, the nodes that would take the download
 * over; the log gets one only as a fallback: when no successor took the copy, or once
 * `logEveryMs` passed since the last (which also renews the record's lease). See DESIGN.md,
 * "Checkpoints beside the log".
 */
export interface CheckpointPaceOptions {
  /** Percent of progress between two copies sent to the successors. */
  step: number
  /** The longest time between two checkpoints written to the log. */
  logEveryMs: number
  /** Where the attempt starts: its record's progress, written at `now`. */
  progress: number
  now: number
}

export class CheckpointPace {
  private lastCopied: number
  private lastWrite: { progress: number; at: number }

  constructor(private readonly o: CheckpointPaceOptions) {
    this.lastCopied = o.progress
    this.lastWrite = { progress: o.progress, at: o.now }
  }

  /** Whether this progress goes to the successors: a step on from the last copy sent. */
  copyDue(progress: number): boolean {
    if (progress < this.lastCopied + this.o.step) return false
    this.lastCopied = progress
    return true
  }

  /**
   * Whether this progress goes to the log now: no successor took its copy and it is ahead of
   * the log's, or the log's interval has passed. Counted as written when it says yes.
   */
  writeDue(progress: number, copied: boolean, now: number): boolean {
    const due =
      (!copied && progress > this.lastWrite.progress) ||
      now - this.lastWrite.at >= this.o.logEveryMs
    if (due) this.lastWrite = { progress, at: now }
    return due
  }

  /**
   * Whether the record's lease needs renewing now, whatever the job reports: the log's
   * interval has passed since the last write. Counted as written when it says yes.
   */
  leaseDue(now: number): boolean {
    if (now - this.lastWrite.at < this.o.logEveryMs) return false
    this.lastWrite = { ...this.lastWrite, at: now }
    return true
  }
}
