/**
 * Does a series keep growing? The soak's verdict on disk and memory. Both saw-tooth: RocksDB
 * grows its files and then compacts them, V8's heap grows until a collection. So the verdict
 * is on the floor (the lowest value of the last window, `floor`): the least-squares slope of
 * it, projected over the span, as a share of its mean (`relativeGrowth`). A series that levels
 * off (purges keep up, caches fill once) projects near 0; one that grows with every download
 * ever made projects its whole growth. Pure.
 */

export interface Sample {
  /** Seconds since the start. */
  t: number
  value: number
}

/** Growth over the samples' span, as a fraction of their mean (0.25: 25 % more by the end). */
export function relativeGrowth(samples: readonly Sample[]): number {
  if (samples.length < 3) return 0
  const n = samples.length
  const meanT = samples.reduce((s, x) => s + x.t, 0) / n
  const meanV = samples.reduce((s, x) => s + x.value, 0) / n
  let num = 0
  let den = 0
  for (const { t, value } of samples) {
    num += (t - meanT) * (value - meanV)
    den += (t - meanT) ** 2
  }
  if (den === 0 || meanV === 0) return 0
  const span = samples[n - 1]!.t - samples[0]!.t
  return ((num / den) * span) / meanV
}

/** Each sample replaced by the lowest value of the `windowS` seconds up to it. */
export function floor(samples: readonly Sample[], windowS: number): Sample[] {
  return samples.map(({ t }) => ({
    t,
    value: Math.min(...samples.filter((x) => x.t <= t && x.t > t - windowS).map((x) => x.value)),
  }))
}
