/**
 * Group commit: what callers add within one window goes to `write` as one batch, and each
 * caller resolves (or rejects) with the batch that held its items. With no window, a batch
 * ends with the turn of the event loop it opened in. See DESIGN.md, "Records beside the log".
 */
import type { Clock, Timer } from '../clock.ts'

export interface GroupCommitOptions<T> {
  /** How long a batch gathers before it is written (0: the end of the turn it opened in). */
  windowMs: number
  clock: Clock
  /** Writes one batch; what it throws, every caller of the batch hears. */
  write: (items: T[]) => Promise<void>
}

interface Batch<T> {
  items: T[]
  written: Promise<void>
  /** Hands the batch to `write` now (at most once), rather than when its window ends. */
  flush(): void
  /** The batch is written nowhere: its callers hear `err`. */
  cancel(err: Error): void
}

export class GroupCommit<T> {
  /** The batch the items added now join. */
  private batch: Batch<T> | null = null
  /** Batches handed to `write` and not yet written. */
  private readonly writing = new Set<Promise<void>>()

  constructor(private readonly o: GroupCommitOptions<T>) {}

  /** Adds items to the gathering batch (opening one); resolves once that batch is written. */
  add(items: T[]): Promise<void> {
    const batch = (this.batch ??= this.open())
    batch.items.push(...items)
    return batch.written
  }

  /** Hands the gathering batch over now; resolves once every batch handed over has settled. */
  async flush(): Promise<void> {
    this.batch?.flush()
    await Promise.allSettled([...this.writing])
  }

  /** The gathering batch is written nowhere: its callers hear `err`. */
  cancel(err: Error): void {
    this.batch?.cancel(err)
  }

  private open(): Batch<T> {
    let settle!: (err?: Error) => void
    const written = new Promise<void>((resolve, reject) => {
      settle = (err) => (err ? reject(err) : resolve())
    })
    let timer: Timer | null = null
    let done = false
    const end = () => {
      if (done) return false
      done = true
      if (timer) this.o.clock.clearTimeout(timer)
      if (this.batch === batch) this.batch = null
      return true
    }
    const batch: Batch<T> = {
      items: [],
      written,
      cancel: (err) => {
        if (end()) settle(err)
      },
      flush: () => {
        if (!end()) return
        const writing = this.o.write(batch.items).then(() => settle(), settle)
        this.writing.add(writing)
        void writing.finally(() => this.writing.delete(writing))
      },
    }
    // With no window, at the end of this turn (setImmediate: after its microtasks), so that
    // every add made in it joins.
    if (this.o.windowMs > 0) timer = this.o.clock.setTimeout(batch.flush, this.o.windowMs)
    else setImmediate(batch.flush)
    return batch
  }
}
