/**
 * The record log's moves, one at a time (log-moves.ts): each waits for the one before, and
 * says which step it is at, for a move that takes too long to say where it is (log-sync.ts).
 */
import { within, type Clock } from '../clock.ts'

export class MoveQueue {
  private tail: Promise<void> = Promise.resolve()
  private running = false
  /** The step of the move under way, or null: named by the move as it goes. */
  step: string | null = null

  /** `onError` hears of a move that failed; its caller hears of it too. */
  constructor(
    private readonly clock: Clock,
    private readonly onError: (err: Error) => void,
  ) {}

  /** Resolves once the moves queued so far are through, failed or not. */
  idle(): Promise<void> {
    return this.tail
  }

  /** Whether a move is under way. */
  underWay(): boolean {
    return this.running
  }

  /** Runs `move` once the moves queued before it are through. */
  run(move: () => Promise<void>): Promise<void> {
    const run = this.tail.then(async () => {
      this.running = true
      try {
        await move()
      } finally {
        this.running = false
        this.step = null
      }
    })
    this.tail = run.catch((err: Error) => this.onError(err))
    return run
  }

  /** A step of the move under way, which fails past `limitMs`. */
  bounded<T>(step: string, limitMs: number, run: () => Promise<T>): Promise<T> {
    this.step = step
    return within(this.clock, limitMs, step, run())
  }
}
