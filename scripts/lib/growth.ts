/**
 * Does a series keep growing? The soak's verdict on disk and memory. Both saw-tooth: RocksDB
 * grows its files and then compacts them, a node deletes an old log's cores when it moves to a
 * new one, V8's heap grows until a collection. So the verdict is on a low level of each node's
 * series that many teeth set, not on single points: the judged span is cut into segments, each
 * gives its lower quartile per node (`segmentQuartiles`), those are added up across the nodes
 * (`summedQuartiles`), and the least-squares slope of the sums, projected over the span as a
 * share of their mean (`relativeGrowth`), is the growth. A series that levels off (purges keep
 * up, caches fill once) projects near 0; one that grows with every download ever made projects
 * its whole growth. Pure.
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
/** At most this many: more points, each the level of fewer cycles. */
const MAX_SEGMENTS = 6

/** The value a quarter of `values` are at or below (not empty). */
function lowerQuartile(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor((sorted.length - 1) / 4)]!
}

/**
 * The series cut into equal segments (three to six, each at least `MIN_SEGMENT_S` long), each
 * replaced by its lower quartile, at its middle. Not the lowest value: the deepest drops (a
 * node's store right after an old log's cores are deleted and RocksDB compacts) last a second
 * or two and come every two to four minutes, so a segment's lowest point is one such drop or
 * none, and swung the soak's verdict between -24 % and +53 % on the same code. The quartile
 * is set by every tooth in the segment, and a series that grows with every download raises
 * it all the same. Fewer than three segments' worth: []. `plannedS`: the span the samples
 * were meant to cover, which sets how many segments (the samples' own span falls short of it
 * by up to a sampling interval at each end). Samples are in time order.
 */
export function segmentQuartiles(samples: readonly Sample[], plannedS?: number): Sample[] {
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
    out.push({ t: from + (i + 0.5) * length, value: lowerQuartile(inside.map((x) => x.value)) })
  }
  return out
}

/**
 * The segments' quartiles of several series sampled together (each node's data directory or
 * memory), added up segment by segment: the level each node keeps to, however its teeth line
 * up with the others'. (The nodes' saw-tooths are out of step, and a quartile of their sum
 * swings with how they happened to line up.) [] when a series has a segment without samples
 * (a node that stopped answering): no verdict, rather than one on fewer nodes.
 */
export function summedQuartiles(
  series: readonly (readonly Sample[])[],
  plannedS?: number,
): Sample[] {
  const each = series.map((xs) => segmentQuartiles(xs, plannedS))
  const count = each[0]?.length ?? 0
  if (count === 0 || each.some((q) => q.length !== count)) return []
  return each[0]!.map(({ t }, i) => ({ t, value: each.reduce((s, q) => s + q[i]!.value, 0) }))
}

export interface Growth {
  /** `relativeGrowth` of the summed quartiles: 0.1 is 10 % more by the end of the span. */
  growth: number
  /** The first and last segment's summed quartiles. */
  first: number
  last: number
}

/**
 * The growth of series sampled together (one per node) from `fromS` on, over `plannedS`
 * seconds; null when there are fewer than three segments with samples of every series.
 */
export function judgeGrowth(
  series: readonly (readonly Sample[])[],
  fromS: number,
  plannedS: number,
): Growth | null {
  const levels = summedQuartiles(
    series.map((xs) => xs.filter((x) => x.t >= fromS)),
    plannedS,
  )
  if (levels.length < 3) return null
  return {
    growth: relativeGrowth(levels),
    first: levels[0]!.value,
    last: levels[levels.length - 1]!.value,
  }
}
