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

/** Judged segments are at least this long: several compaction cycles, whatever their pace. */
export const MIN_SEGMENT_S = 120
/** At most this many: more points, each the trough of fewer cycles. */
const MAX_SEGMENTS = 6

/**
 * The series cut into equal segments (three to six, each at least `MIN_SEGMENT_S` long), each
 * replaced by its lowest value, at its middle. A floor over a fixed window swings with where
 * the last sweep fell when the saw-tooth's cycle is near the window (RocksDB's cycle is one to
 * two minutes); the lowest of several cycles does not, and a series that grows with every
 * download still raises every segment's trough. Fewer than three segments' worth: [].
 * `plannedS`: the span the samples were meant to cover, which sets how many segments (the
 * samples' own span falls short of it by up to a sampling interval at each end). Samples are
 * in time order.
 */
export function segmentFloors(samples: readonly Sample[], plannedS?: number): Sample[] {
  if (samples.length === 0) return []
  const from = samples[0]!.t
  const span = samples[samples.length - 1]!.t - from
  const count = Math.min(MAX_SEGMENTS, Math.floor((plannedS ?? span) / MIN_SEGMENT_S))
  if (count < 3 || span <= 0) return []
  const length = span / count
  const out: Sample[] = []
  for (let i = 0; i < count; i++) {
    const inside = samples.filter((x) => {
      const k = Math.min(count - 1, Math.floor((x.t - from) / length))
      return k === i
    })
    if (inside.length === 0) continue
    out.push({ t: from + (i + 0.5) * length, value: Math.min(...inside.map((x) => x.value)) })
  }
  return out
}
