/**
 * The appends on a node that is not (or for a moment not) a writer of its base, waiting to
 * become one. Autobase's 'writable' event alone does not end such a wait: autobase compares
 * `writable` before and after one run of its update loop, and a node that stops being a writer
 * inside that run (its writer re-read while an indexer is added) and is one again at its end
 * hears nothing, though an append made meanwhile found it not writable. Such an append then
 * waited out its timeout on a node that had long been a writer (the full-restart test failed on
 * it in CI). So the state is looked at whenever autobase says anything (`check`) and, while an
 * append waits, every `pollMs`.
 */
import type { Clock, Timer } from '../clock.ts'

export class NotWritableError extends Error {
  constructor() {
    super('This node has not been admitted to the cluster log yet; try again shortly.')
    this.name = 'NotWritableError'
  }
}

export interface WriterWaitOptions {
  writable: () => boolean
  /** This node became a writer, or stopped being one. */
  onChange: () => void
  clock: Clock
  /** @default 100 */
  pollMs?: number
}

export class WriterWait {
  private readonly waiting = new Set<(err?: Error) => void>()
  /** `writable` when last looked at. */
  private was = false
  private poll: Timer | null = null

  constructor(private readonly o: WriterWaitOptions) {}

  /** Looks at the state: the waits end if this node is a writer; a change is told. */
  check(): void {
    const writable = this.o.writable()
    // Whatever was last seen: the moment this node was not a writer may have gone unseen.
    if (writable) for (const done of [...this.waiting]) done()
    if (writable === this.was) return
    this.was = writable
    this.o.onChange()
  }

  /** Resolves once this node is a writer; NotWritableError after `timeoutMs`. */
  until(timeoutMs: number): Promise<void> {
    if (this.o.writable()) return Promise.resolve()
    const { clock } = this.o
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        clock.clearTimeout(timer)
        this.waiting.delete(done)
        if (this.waiting.size === 0 && this.poll) {
          clock.clearInterval(this.poll)
          this.poll = null
        }
        if (err) reject(err)
        else resolve()
      }
      const timer = clock.setTimeout(() => done(new NotWritableError()), timeoutMs)
      this.waiting.add(done)
      this.poll ??= clock.setInterval(() => this.check(), this.o.pollMs ?? 100)
    })
  }

  /** Ends every wait with `err` (the base is closing). */
  fail(err: Error): void {
    for (const done of [...this.waiting]) done(err)
  }
}
