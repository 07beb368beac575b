/**
 * One run of the job, to its file in the store or a verdict on why not (worker.ts writes
 * either). The job's own failure is tried again; its bugs (a result of the wrong shape, a bad
 * report, a stream of something else than bytes) fail the download at once, since the same
 * code does the same. A stop (dismissed, taken over, shutting down) and the store's own
 * failures (a full disk) are thrown: they are not the job's, and not an attempt.
 */
import type { Checkpoint } from '../store/record.ts'
import {
  SourceStreamError,
  StoreError,
  WrongChunkError,
  type FileRef,
  type FileStore,
} from '../store/file-store.ts'
import type { GeneratedFile, Generator, Job } from './generator.ts'
import { discard, wrongFile } from './generated-file.ts'
import { ReportMisuse } from './progress-report.ts'
import { thrownAt, thrownMessage } from './thrown-at.ts'
import { withStopGrace } from './stop-grace.ts'
import type { Clock } from '../clock.ts'

export type JobRunResult =
  { stored: FileRef; file: GeneratedFile } | { failed: string; where?: string; retry: boolean }

export interface JobRunOptions {
  generator: Generator
  files: FileStore
  job: Job
  /** Aborted to stop the job; a bad report aborts it with a ReportMisuse. */
  signal: AbortSignal
  report: (progress: number, checkpoint: Checkpoint) => void
  clock: Clock
  /** Waited for before the file is stored: the checkpoint writes under way. */
  settled: () => Promise<void>
  /** The job ran on past the grace after its signal was aborted (stop-grace.ts). */
  onIgnoredStop: () => void
}

export async function runJob(o: JobRunOptions): Promise<JobRunResult> {
  const { signal } = o
  let file: GeneratedFile | undefined
  let ref: FileRef | undefined
  try {
    file = await withStopGrace(o.generator.run(o.job, { signal, report: o.report }), {
      signal,
      clock: o.clock,
      onIgnored: o.onIgnoredStop,
      onLate: discard,
    })
    if (signal.aborted) throw signal.reason
    const wrong = wrongFile(file)
    if (wrong) {
      discard(file)
      return { failed: `The generator returned ${wrong}.`, retry: false }
    }
    await o.settled()
    // A stream goes to the store as it comes; its own failure is the generator's.
    ref = file.stream
      ? await o.files.putStream(file.stream, signal)
      : await o.files.put(
          Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength),
        )
    if (signal.aborted) {
      // Stored just as the download was stopped: nobody will ask for this copy.
      void o.files.remove(ref).catch(() => {})
      throw signal.reason
    }
    return { stored: ref, file }
  } catch (err) {
    // A stream the store did not take is the job's to let go (its cursor, its file).
    if (!ref) discard(file)
    // A bad report is the job's bug, wherever the job then threw.
    const misuse = signal.reason
    if (misuse instanceof ReportMisuse)
      return { failed: misuse.message, where: thrownAt(misuse), retry: false }
    if (signal.aborted) throw err
    if (err instanceof WrongChunkError)
      return {
        failed: `The generator returned a stream that is not bytes: ${err.message}.`,
        retry: false,
      }
    // Only the generator's own failure is the download's: the user sees it.
    const own = err instanceof SourceStreamError ? err.cause : err
    if (err !== own || !(err instanceof StoreError))
      return { failed: thrownMessage(own), where: thrownAt(own), retry: true }
    throw err
  }
}
