/**
 * The worker adapter: what turns a download into a file. The node picks one by configuration;
 * tests swap in generators that fail on demand. A generator is resumable: it reports a
 * checkpoint with its progress and is handed the last one written when it starts again.
 */
import type { Checkpoint } from '../store/record.ts'

export interface Job {
  id: string
  userId: string
  createdAt: number
  /** Progress of the last checkpoint (0 on a fresh start). */
  progress: number
  checkpoint: Checkpoint | null
  /** The node running this attempt, for the report. */
  nodeName: string
}

export interface RunContext {
  signal: AbortSignal
  /** Called at least every 200 ms while the generator works. */
  report(progress: number, checkpoint: Checkpoint): void
}

export interface GeneratedFile {
  bytes: Buffer
  filename: string
  contentType: string
}

export interface Generator {
  readonly name: string
  run(job: Job, ctx: RunContext): Promise<GeneratedFile>
}

/** Waits `ms`, or rejects with the signal's reason once it is aborted. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>
