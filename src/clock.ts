/**
 * Time, injected. Every component that reads the time or waits takes a Clock, so a test can
 * run it on a fake one (test/helpers/clock.ts) and no unit test sleeps.
 */

/** An opaque handle from setTimeout or setInterval. */
export type Timer = unknown

export interface Clock {
  /** Wall-clock milliseconds since the epoch. */
  now(): number
  setTimeout(callback: () => void, ms: number): Timer
  clearTimeout(timer: Timer): void
  setInterval(callback: () => void, ms: number): Timer
  clearInterval(timer: Timer): void
}

/**
 * The real clock. Its timers never hold the process open on their own: a node is kept alive
 * by its servers, and a timer left behind by a test must not hang the test process.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
  setInterval: (callback, ms) => setInterval(callback, ms).unref(),
  clearInterval: (timer) => clearInterval(timer as NodeJS.Timeout),
}

/** Resolves after `ms` on the given clock. */
export function delay(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms))
}
