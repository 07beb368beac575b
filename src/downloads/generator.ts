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

export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>

/** A timer that rejects with the signal's reason when aborted. */
export const sleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
