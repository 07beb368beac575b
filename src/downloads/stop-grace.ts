/**
 * How long a job may run on after its signal is aborted (dismissed, taken over, shutting
 * down). A job is asked to end by `ctx.signal`; one that does not watch it would hold its
 * worker for as long as it runs, unseen: counted as running, its user's next download beside
 * it. After the grace its worker lets it go (told once, for the job's author), and what it
 * makes later is dropped.
 */
import type { Clock, Timer } from '../clock.ts'

export const STOP_GRACE_MS = 10_000

/**
 * `job`, or a rejection with the signal's reason once `graceMs` passed after `signal` was
 * aborted without `job` settling. `onIgnored` is called then; `onLate` with what `job`
 * resolves to after that (a stream to release, say).
 */
export function withStopGrace<T>(
  job: T | Promise<T>,
  o: {
    signal: AbortSignal
    clock: Clock
    graceMs?: number
    onIgnored: () => void
    onLate: (value: T) => void
  },
): Promise<T> {
  const { signal, clock, graceMs = STOP_GRACE_MS } = o
  return new Promise<T>((resolve, reject) => {
    let timer: Timer | null = null
    let gaveUp = false
    const onAbort = () => {
      timer = clock.setTimeout(() => {
        gaveUp = true
        o.onIgnored()
        reject(signal.reason)
      }, graceMs)
    }
    const settled = () => {
      signal.removeEventListener('abort', onAbort)
      if (timer !== null) clock.clearTimeout(timer)
    }
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
    // A job's run may return its file as a plain value, not a promise (a function not async).
    Promise.resolve(job).then(
      (value) => {
        settled()
        if (gaveUp) o.onLate(value)
        else resolve(value)
      },
      (err: unknown) => {
        settled()
        if (!gaveUp) reject(err)
      },
    )
  })
}
