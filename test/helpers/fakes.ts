/**
 * Fakes for the downloads layer's collaborators: a file store in memory, a generator the test
 * drives step by step, and the repository over an in-memory log.
 */
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import {
  bytesOf,
  type FileRef,
  type FileStore,
  type StoredFile,
} from '../../src/store/file-store.ts'
import { LogRepository } from '../../src/store/repository.ts'
import type { Generator, Job, RunContext, GeneratedFile } from '../../src/downloads/generator.ts'
import type { Checkpoint, DiskFileRef } from '../../src/store/record.ts'
import type { Clock } from '../../src/clock.ts'
import { MemoryLog } from './memory-log.ts'

export function memoryRepository(clock: Clock, tombstoneMs = 60_000) {
  const log = new MemoryLog()
  return { log, repo: new LogRepository({ log, time: clock, tombstoneMs }) }
}

export class MemoryFileStore implements FileStore<DiskFileRef> {
  readonly files = new Map<string, Buffer>()
  readonly prefetched: FileRef[] = []
  readonly removed: FileRef[] = []
  /** While false, open() answers null: the file is on no reachable peer. */
  reachable = true
  private made = 0

  async put(bytes: Buffer): Promise<DiskFileRef> {
    const name = `file-${String(++this.made).padStart(6, '0')}`
    this.files.set(name, bytes)
    const sha256 = createHash('sha256').update(bytes).digest('hex')
    return { node: 'node-a', name, byteLength: bytes.length, sha256 }
  }

  async putStream(source: Readable): Promise<DiskFileRef> {
    // Read as the real store reads it: what fails there is the job's (bytesOf).
    const chunks: Buffer[] = []
    for await (const chunk of bytesOf(source)) chunks.push(Buffer.from(chunk))
    return this.put(Buffer.concat(chunks))
  }

  async open(ref: DiskFileRef): Promise<StoredFile | null> {
    const bytes = this.files.get(ref.name)
    if (!bytes || !this.reachable) return null
    return {
      size: bytes.length,
      stream: (range) =>
        Readable.from([range ? bytes.subarray(range.start, range.end + 1) : bytes]),
    }
  }

  prefetch(ref: DiskFileRef): void {
    this.prefetched.push(ref)
  }

  async holds(ref: DiskFileRef): Promise<boolean> {
    return this.files.has(ref.name)
  }

  async remove(ref: DiskFileRef): Promise<void> {
    this.removed.push(ref)
    this.files.delete(ref.name)
  }

  async close(): Promise<void> {}
}

/** One run of the stepped generator, as the test sees it. */
export interface Run {
  job: Job
  ctx: RunContext
  /** Reports progress (with a checkpoint saying so). */
  report(progress: number): void
  /** Resolves the run with a PDF, or with these fields over it (a `stream`, say). */
  finish(file?: Record<string, unknown>): void
  fail(message: string): void
}

/**
 * A generator that does nothing until the test says: every run waits for `finish` or `fail`.
 * `next()` hands out the runs in the order they started, each once, started already or not.
 */
export function steppedGenerator(): Generator & { runs: Run[]; next(): Promise<Run> } {
  const runs: Run[] = []
  let claimed = 0
  let waiting: ((run: Run) => void) | null = null
  return {
    name: 'stepped',
    runs,
    next() {
      const started = runs[claimed]
      if (started) {
        claimed++
        return Promise.resolve(started)
      }
      return new Promise((resolve) => {
        waiting = (run) => {
          claimed++
          resolve(run)
        }
      })
    },
    run(job, ctx) {
      return new Promise<GeneratedFile>((resolve, reject) => {
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })
        const run: Run = {
          job,
          ctx,
          report: (progress) => ctx.report(progress, { at: progress } satisfies Checkpoint),
          finish: (file = {}) =>
            resolve({
              bytes: Buffer.from('%PDF-1.4 stepped'),
              filename: `stepped-${job.id}.pdf`,
              contentType: 'application/pdf',
              ...file,
            } as GeneratedFile),
          fail: (message) => reject(new Error(message)),
        }
        runs.push(run)
        waiting?.(run)
        waiting = null
      })
    },
  }
}
