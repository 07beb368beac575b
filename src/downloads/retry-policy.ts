/**
 * How long a download waits before its next attempt after the generator threw: exponential
 * in the attempts made, halved by jitter (half the delay fixed, half random), so that the
 * retries of many downloads that failed together (a dependency down) do not come back
 * together. Capped, so a long run of attempts still comes back within minutes.
 */

/** The longest wait between two attempts. */
export const MAX_RETRY_DELAY_MS = 5 * 60_000

/**
 * The wait after attempt `failed` (1 for the first) failed, with `baseMs` the first delay
 * (`--retry-ms`): between half and all of baseMs * 2^(failed-1), at most MAX_RETRY_DELAY_MS.
 */
export function retryDelayMs(
  failed: number,
  baseMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(baseMs * 2 ** Math.max(0, failed - 1), MAX_RETRY_DELAY_MS)
  return Math.round(ceiling / 2 + (random() * ceiling) / 2)
}
