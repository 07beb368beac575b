/**
 * Copies made ahead of need (a keeper's copies of its peers' files, store/disk-files.ts): a
 * few run at once and the rest wait, since a node that becomes the keeper of a dead member's
 * files may have thousands to make; each is tried again a while later for as long as its
 * attempt says so (no node holding the file was reachable yet).
 */
import type { Clock, Timer } from '../clock.ts'

/** One try: 'again' to be tried again after `retryMs`, anything else when done. */
export type Attempt = () => Promise<'again' | void>

export class CopyQueue {
  /** The copies queued, running or waiting to be tried again (their timer), by key. */
  private readonly entries = new Map<string, Timer | null>()
  private readonly waiting: (() => void)[] = []
  private running = 0

  constructor(
    private readonly o: {
      clock: Clock
      /** How many attempts run at once. */
      atOnce: number
      retryMs: number
      /** An attempt threw: it is not tried again. */
      onError(key: string, err: Error): void
    },
  ) {}

  /** Queues a copy, unless one of this key is queued already. */
  add(key: string, attempt: Attempt): void {
    if (this.entries.has(key)) return
    const run = () => {
      if (!this.entries.has(key)) return this.next() // cancelled while it waited
      this.running++
      attempt()
        .catch((err: Error) => this.o.onError(key, err))
        .then((again) => {
          if (again !== 'again' || !this.entries.has(key)) return void this.entries.delete(key)
          this.entries.set(
            key,
            this.o.clock.setTimeout(() => queue(), this.o.retryMs),
          )
        })
        .finally(() => {
          this.running--
          this.next()
        })
    }
    const queue = () => {
      this.entries.set(key, null)
      if (this.running < this.o.atOnce) run()
      else this.waiting.push(run)
    }
    queue()
  }

  /** Whether a copy of this key is queued, running or waiting to be tried again. */
  has(key: string): boolean {
    return this.entries.has(key)
  }

  /** Drops a copy: it is not tried again (a try under way finishes). */
  cancel(key: string): void {
    const timer = this.entries.get(key)
    if (timer) this.o.clock.clearTimeout(timer)
    this.entries.delete(key)
  }

  close(): void {
    for (const timer of this.entries.values()) if (timer) this.o.clock.clearTimeout(timer)
    this.entries.clear()
    this.waiting.length = 0
  }

  private next(): void {
    if (this.running < this.o.atOnce) this.waiting.shift()?.()
  }
}
