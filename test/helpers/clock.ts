/**
 * A fake clock for unit tests (@sinonjs/fake-timers): time moves only when the test says, and
 * the timers due run in order. Nothing sleeps.
 */
import FakeTimers from '@sinonjs/fake-timers'
import { systemClock, type Clock } from '../../src/clock.ts'

export interface FakeClock extends Clock {
  /** Moves time on by `ms`, running every timer due, and the promises they settle. */
  tick(ms: number): Promise<void>
  /**
   * This process stands still for `ms` (SIGSTOP, a long pause): time moves on and no timer
   * runs meanwhile; each runs after, as late as the pause.
   */
  stall(ms: number): void
}

export function fakeClock(start = 1_700_000_000_000): FakeClock {
  const fake = FakeTimers.createClock(start)
  return {
    now: () => fake.now,
    setTimeout: (f, ms) => fake.setTimeout(f, ms),
    clearTimeout: (t) => fake.clearTimeout(t as FakeTimers.TimerId),
    setInterval: (f, ms) => fake.setInterval(f, ms),
    clearInterval: (t) => fake.clearInterval(t as FakeTimers.TimerId),
    tick: async (ms) => {
      await fake.tickAsync(ms)
    },
    stall: (ms) => fake.setSystemTime(fake.now + ms),
  }
}

export interface OffsetClock extends Clock {
  /** Moves this clock's time on by `ms` at once (its timers keep real time). */
  advance(ms: number): void
}

/**
 * The real clock, with a time the test can move forward: for real nodes whose records must
 * expire without the test waiting for them to.
 */
export function offsetClock(): OffsetClock {
  let offset = 0
  return {
    ...systemClock,
    now: () => Date.now() + offset,
    advance: (ms) => {
      offset += ms
    },
  }
}
