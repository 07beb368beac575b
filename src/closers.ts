/**
 * The things a node has opened, closed in the reverse order of opening: the same list serves a
 * start that fails half-way and a clean stop, so neither can forget one.
 */
import type { Logger } from './logger.ts'

interface Entry {
  name: string
  close: () => unknown
}

export class Closers {
  private readonly entries: Entry[] = []
  private closing: Promise<void> | null = null

  constructor(private readonly log: Logger) {}

  /** Registers how to close something just opened; returns the thing. */
  add<T>(name: string, thing: T, close: (thing: T) => unknown): T {
    this.entries.push({ name, close: () => close(thing) })
    return thing
  }

  /**
   * Closes everything, last opened first. A part that fails to close is logged and the rest
   * still close; then the whole rejects, naming the parts that failed. Safe to call twice.
   */
  closeAll(): Promise<void> {
    this.closing ??= (async () => {
      const failed: string[] = []
      for (const { name, close } of this.entries.reverse()) {
        try {
          await close()
        } catch (err) {
          failed.push(`${name}: ${(err as Error).message}`)
          this.log.error('close-failed', { part: name, error: (err as Error).message })
        }
      }
      if (failed.length > 0) throw new Error(`could not close ${failed.join('; ')}`)
    })()
    return this.closing
  }
}
