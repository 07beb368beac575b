/**
 * Watches the free space where a node keeps its data. A store that runs out of disk mid-write
 * closes itself for good (autobase over RocksDB: "Batch was not applied", then every write
 * answers "Autobase is closing"), so a node must stop writing before that: below the reserve
 * it refuses new downloads and pauses its workers, and once space is back (with some margin,
 * so it does not flap) it resumes them from their checkpoints. A store that breaks anyway is
 * reopened by node-runner.ts.
 */
import { readdir, stat, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import type { Clock, Timer } from './clock.ts'

/** Space comes back only with this margin over the reserve, so the state does not flap. */
const RECOVER_FACTOR = 1.5

/** Free bytes of the file system holding `dir`, for a non-root user. */
export type FreeBytes = (dir: string) => Promise<number>

export const freeBytes: FreeBytes = async (dir) => {
  const s = await statfs(dir)
  return s.bavail * s.bsize
}

/** The size of the file system holding `dir`. */
export async function totalBytes(dir: string): Promise<number> {
  const s = await statfs(dir)
  return s.blocks * s.bsize
}

/**
 * What the `disk-low` line says: what the node does, and when it resumes; or, on a file
 * system too small ever to have that much free (a 40 MB volume under the default 64 MB
 * reserve, a tester's), that it never will and what to change.
 */
export function diskLowMessage(minFreeMb: number, totalMb: number | null): string {
  const resumeMb = Math.round(minFreeMb * RECOVER_FACTOR)
  const what = `below --min-free-mb (${minFreeMb} MB): new downloads are refused and workers paused`
  if (totalMb !== null && totalMb < resumeMb)
    return `${what}, and this file system holds ${totalMb} MB in all, so it will never have the ${resumeMb} MB free they need to resume: give the node a larger one, or a --min-free-mb of at most ${Math.floor(totalMb / (2 * RECOVER_FACTOR))}`
  return `${what} until free space is back above ${resumeMb} MB`
}

/**
 * The disk a directory takes, as `du` counts it: allocated blocks, which include what RocksDB
 * allocates ahead (some MB per store). `apparent`: the bytes the files hold, each file's length
 * as `du --apparent-size` counts it, or its blocks when fewer (a sparse file: RocksDB's info log
 * trimmed, store/info-log.ts, keeps its length and holds only its tail).
 */
export async function dirBytes(dir: string, apparent = false): Promise<number> {
  return (await fileBytes(dir, apparent)).reduce((sum, f) => sum + f.bytes, 0)
}

/** Each file under `dir` and the disk it takes, counted as `dirBytes` counts it. */
export async function fileBytes(
  dir: string,
  apparent = false,
): Promise<{ path: string; bytes: number }[]> {
  const files: { path: string; bytes: number }[] = []
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) files.push(...(await fileBytes(path, apparent)))
    else
      files.push({
        path,
        bytes: await stat(path).then(
          (s) => (apparent ? Math.min(s.size, s.blocks * 512) : s.blocks * 512),
          () => 0,
        ),
      })
  }
  return files
}

export interface DiskSpaceOptions {
  dir: string
  /** Below this, the node stops writing. */
  reserveBytes: number
  clock: Clock
  /** How often free space is measured. @default 1000 */
  intervalMs?: number
  /** Tests: the measure. */
  measure?: FreeBytes
  /** Called when the disk becomes low or is fine again. */
  onChange(low: boolean, free: number): void
  onError(err: Error): void
}

export class DiskSpace {
  private low = false
  private free = Infinity
  private timer: Timer | null = null
  private measuring = false

  constructor(private readonly o: DiskSpaceOptions) {}

  /** Measures once now, then every interval. */
  async start(): Promise<void> {
    await this.check()
    this.timer ??= this.o.clock.setInterval(() => void this.check(), this.o.intervalMs ?? 1000)
  }

  /** Whether the node must not write now, and the free bytes last measured. */
  get state(): { low: boolean; free: number; reserve: number } {
    return { low: this.low, free: this.free, reserve: this.o.reserveBytes }
  }

  async check(): Promise<void> {
    if (this.measuring) return
    this.measuring = true
    try {
      this.free = await (this.o.measure ?? freeBytes)(this.o.dir)
      const low = this.low
        ? this.free < this.o.reserveBytes * RECOVER_FACTOR
        : this.free < this.o.reserveBytes
      if (low !== this.low) {
        this.low = low
        this.o.onChange(low, this.free)
      }
    } catch (err) {
      this.o.onError(err as Error)
    } finally {
      this.measuring = false
    }
  }

  stop(): void {
    if (this.timer) this.o.clock.clearInterval(this.timer)
    this.timer = null
  }
}

/**
 * `dirBytes` of a directory, walked at most once every `ms`: a store's files are many, and
 * metrics and the status page ask every second.
 */
export function dirBytesEvery(dir: string, ms: number, clock: Clock): () => Promise<number> {
  let last: { at: number; bytes: Promise<number> } | null = null
  return () => {
    if (!last || clock.now() - last.at >= ms) last = { at: clock.now(), bytes: dirBytes(dir) }
    return last.bytes
  }
}
