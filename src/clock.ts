/**
 * Time, injected. Every component of a node that reads the time or waits takes a Clock, so a
 * test can run it on a fake one (test/helpers/clock.ts) and no unit test sleeps. The network
 * layer under the links (swarm-transport.ts, bootstrap-prober.ts: socket keep-alives, DHT
 * probes, shutdown limits) stays on real time: it waits on real sockets.
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

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (timer) => clearInterval(timer as NodeJS.Timeout),
}

/** Resolves after `ms` on the given clock. */
export function delay(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms))
}

/** Resolves after `ms` on the given clock, or rejects with the signal's reason once aborted. */
export function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const timer = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clock.clearTimeout(timer)
      reject(signal.reason)
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * The promise's outcome, or a rejection saying that `what` took longer than `ms` on the given
 * clock: for a step that may hang, so that its caller fails and can try again.
 */
export function within<T>(clock: Clock, ms: number, what: string, p: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(
      () => reject(new Error(`${what} took longer than ${Math.round(ms / 1000)} s`)),
      ms,
    )
    p.then(
      (value) => {
        clock.clearTimeout(timer)
        resolve(value)
      },
      (err: unknown) => {
        clock.clearTimeout(timer)
        reject(err)
      },
    )
  })
}

/** Whether `p` settles, either way, within `ms` on the given clock (for a step to stop waiting on). */
export function settlesWithin(clock: Clock, ms: number, p: Promise<unknown>): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = clock.setTimeout(() => resolve(false), ms)
    const settled = () => {
      clock.clearTimeout(timer)
      resolve(true)
    }
    p.then(settled, settled)
  })
}
