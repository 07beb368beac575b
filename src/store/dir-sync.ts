/**
 * Group commit for a directory's fsync. A file takes its name by a rename, which a power cut
 * may undo until the directory itself is synced; syncing it once per file meant opening the
 * directory, syncing and closing it for every file a node made or copied, three calls each,
 * and a burst of downloads finishing together made a hundred of them within a second. Here
 * one handle stays open, and every rename done before a sync starts is covered by that sync:
 * callers that arrive while one is running share the next one.
 */
import { open, type FileHandle } from 'node:fs/promises'

/** What a directory sync needs of the file system (tests pass their own). */
export interface DirHandle {
  sync(): Promise<void>
  close(): Promise<void>
}

export class DirSync {
  private handle: Promise<DirHandle> | null = null
  /** The sync under way, if one is. */
  private running: Promise<void> | null = null
  /** The sync after it, shared by every caller that came while it ran. */
  private next: Promise<void> | null = null
  private closed = false

  constructor(
    private readonly dir: string,
    private readonly openDir: (dir: string) => Promise<DirHandle> = (d) =>
      open(d, 'r') as Promise<FileHandle>,
  ) {}

  /** Resolves once a sync that started after this call has finished. */
  sync(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the directory is closed'))
    if (!this.running) return (this.running = this.start())
    // The running sync may have started before the caller's rename: wait for the next one.
    this.next ??= this.running.then(
      () => this.chain(),
      () => this.chain(),
    )
    return this.next
  }

  /** Waits for the syncs under way, then closes the handle. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.allSettled([this.running, this.next])
    const handle = await this.handle?.catch(() => null)
    this.handle = null
    await handle?.close()
  }

  private chain(): Promise<void> {
    this.next = null
    return (this.running = this.start())
  }

  private async start(): Promise<void> {
    try {
      this.handle ??= this.openDir(this.dir)
      const handle = await this.handle.catch((err: unknown) => {
        this.handle = null // opened again by the next sync
        throw err
      })
      await handle.sync()
    } finally {
      // Only the sync that is still the current one clears it (a chained one replaced it).
      if (!this.next) this.running = null
    }
  }
}
