/**
 * Notices a log whose update has stopped for good. Autobase brings its view up to date in
 * passes (`update()`); a pass can wait for ever on a block no peer will send: seen after a
 * node was closed while its cluster was still adding indexers, reopened, and its first pass
 * migrated its views to the new indexer set, asking its peers for a block of a view they had
 * left (DESIGN.md, "A log that stops applying"). The view then never moves, the node reads a
 * table that is falling behind, and nothing fails.
 *
 * Every `checkMs` the watch starts a pass if none is under way (`probe`), and notes a number
 * that grows whenever the base makes headway (`progress`: lengths of its log and view). A pass
 * under way for `stallMs` with the number unchanged all along is a stall: `onStall` is told,
 * once per pass. A long pass that moves (a node catching up on thousands of operations) is not
 * one.
 */
import type { Clock, Timer } from '../clock.ts'

export interface ApplyWatchOptions {
  clock: Clock
  /** Starts an update pass, or joins the one under way; settles when it ends. */
  probe: () => Promise<unknown>
  /** A number that changes whenever the base makes headway. */
  progress: () => number
  /** How long a pass may go without headway. */
  stallMs: number
  /** How often to look. */
  checkMs: number
  /** The pass has made no headway for `ms`. */
  onStall: (ms: number) => void
}

export class ApplyWatch {
  private timer: Timer | null = null
  /** The pass under way (started by this watch), if any. */
  private pass: { since: number; mark: number; told: boolean } | null = null

  constructor(private readonly o: ApplyWatchOptions) {}

  start(): void {
    if (this.timer !== null) return
    this.timer = this.o.clock.setInterval(() => this.check(), this.o.checkMs)
  }

  stop(): void {
    if (this.timer !== null) this.o.clock.clearInterval(this.timer)
    this.timer = null
    this.pass = null
  }

  /** How long the pass under way has gone without headway (0 when none is under way). */
  stalledMs(): number {
    return this.pass ? this.o.clock.now() - this.pass.since : 0
  }

  private check(): void {
    const now = this.o.clock.now()
    const mark = this.o.progress()
    const pass = this.pass
    if (pass === null) {
      const started = { since: now, mark, told: false }
      this.pass = started
      const ended = () => {
        if (this.pass === started) this.pass = null
      }
      this.o.probe().then(ended, ended)
      return
    }
    if (mark !== pass.mark) {
      pass.mark = mark
      pass.since = now
      return
    }
    if (!pass.told && now - pass.since >= this.o.stallMs) {
      pass.told = true
      this.o.onStall(now - pass.since)
    }
  }
}
