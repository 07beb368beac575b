/**
 * Each node's data directory, measured every second. The disk saw-tooths fast: a node's store
 * drops when a compacted log's cores are deleted and RocksDB compacts, and climbs back within
 * seconds under load. The soak judges a level of it (growth.ts: each two-minute segment's
 * lower quartile), which a dozen samples ten seconds apart set only roughly, by where they
 * fell in the teeth; a hundred and twenty set it within a few percent. A walk of a data
 * directory (a few hundred files) is cheap enough to make every second.
 */
import { dirBytes } from '../../src/disk-space.ts'

export class DiskSampler {
  private timer: NodeJS.Timeout | undefined
  private busy = false

  constructor(
    private readonly dirs: readonly string[],
    /** Seconds of the run at this moment, or null while the run is not to be sampled. */
    private readonly now: () => number | null,
    /** Each sample: its time and the directories' bytes, in their order. */
    private readonly onSample: (t: number, bytes: number[]) => void,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    this.timer = setInterval(
      () =>
        void this.tick().catch((err: Error) => console.log(`disk sample failed: ${err.message}`)),
      this.intervalMs,
    )
  }

  stop(): void {
    clearInterval(this.timer)
  }

  private async tick(): Promise<void> {
    // A walk slower than the interval (a loaded machine) skips a beat rather than pile up.
    if (this.busy || this.now() === null) return
    this.busy = true
    try {
      // Not `du`: it fails when a file is unlinked while it walks (a purge), which is all the time.
      const bytes = await Promise.all(this.dirs.map((d) => dirBytes(d, true)))
      const t = this.now()
      if (t !== null) this.onSample(t, bytes)
    } finally {
      this.busy = false
    }
  }
}
