import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  floor,
  judgeGrowth,
  relativeGrowth,
  segmentQuartiles,
  summedQuartiles,
} from '../../scripts/lib/growth.ts'

const series = (f: (t: number) => number) =>
  Array.from({ length: 31 }, (_, i) => ({ t: i * 10, value: f(i * 10) }))

test('a flat series, or one that wobbles around a level, does not grow', () => {
  assert.is(relativeGrowth(series(() => 1000)), 0)
  const wobble = relativeGrowth(series((t) => 1000 + (t % 20 === 0 ? 50 : -50)))
  assert.ok(Math.abs(wobble) < 0.02, `wobble ${wobble}`)
})

test('a series that grows steadily projects its growth over the span', () => {
  // 1000 → 1300 over 300 s: a slope of 1/s, 300 over a mean of 1150.
  const g = relativeGrowth(series((t) => 1000 + t))
  assert.ok(Math.abs(g - 300 / 1150) < 1e-9, `growth ${g}`)
})

test('too few samples say nothing', () => {
  assert.is(relativeGrowth([{ t: 0, value: 1 }]), 0)
})

test('a saw-tooth is judged by its floor: flat troughs level off, rising troughs grow', () => {
  // Up 10 a sample for 6 samples (60 s), then back down: a store that compacts.
  const flat = series((t) => 100 + ((t / 10) % 6) * 10)
  assert.ok(Math.abs(relativeGrowth(floor(flat, 60))) < 0.05)
  const rising = series((t) => 100 + t / 2 + ((t / 10) % 6) * 10)
  assert.ok(relativeGrowth(floor(rising, 60)) > 0.5, 'the troughs rise from 100 to 250')
  assert.equal(
    floor(
      [
        { t: 0, value: 5 },
        { t: 10, value: 3 },
        { t: 20, value: 9 },
        { t: 80, value: 7 },
      ],
      60,
    ).map((s) => s.value),
    [5, 3, 3, 7],
  )
})

/** Ten minutes of one node sampled every second. */
const seconds = (f: (t: number) => number) =>
  Array.from({ length: 601 }, (_, t) => ({ t, value: f(t) }))

test('by segment: a saw-tooth levels off, the same climbing grows', () => {
  // A store that climbs 1 a second for 40 s from 100, then is compacted back.
  const tooth = (t: number) => 100 + (t % 40)
  const levels = segmentQuartiles(seconds(tooth))
  assert.is(levels.length, 5, 'five segments of two minutes')
  assert.ok(
    levels.every((x) => x.value === 109 || x.value === 110),
    JSON.stringify(levels),
  )
  assert.ok(Math.abs(relativeGrowth(levels)) < 0.01)
  const rising = segmentQuartiles(seconds((t) => tooth(t) + t / 4))
  // 120 from the first segment's middle to the last's, on a mean of about 185.
  assert.ok(relativeGrowth(rising) > 0.6, 'the level rises by a quarter a second')
})

test('by segment: a drop of a second or two now and then does not move the level', () => {
  // The same teeth, and a deep drop (old cores deleted, RocksDB compacted) for two seconds
  // every 170 s: four segments hold one, the fourth none. Their lowest points are 30, 30, 30,
  // 100, 30; their quartiles do not see the drops.
  const dropping = seconds((t) => (t % 170 < 2 ? 30 : 100 + (t % 40)))
  const lowest = [0, 1, 2, 3, 4].map((i) =>
    Math.min(
      ...dropping.filter((x) => Math.min(4, Math.floor(x.t / 120)) === i).map((x) => x.value),
    ),
  )
  assert.equal(lowest, [30, 30, 30, 100, 30])
  const levels = segmentQuartiles(dropping)
  assert.ok(
    levels.every((x) => x.value >= 109 && x.value <= 110),
    JSON.stringify(levels),
  )
  assert.ok(Math.abs(relativeGrowth(levels)) < 0.01)
})

test('by segment: too short a span to cut in three gives nothing to judge', () => {
  const short = Array.from({ length: 30 }, (_, i) => ({ t: i * 10, value: 1 }))
  assert.equal(segmentQuartiles(short), [])
  assert.equal(segmentQuartiles([]), [])
})

test('by segment: the planned span sets how many, not the samples falling short of it', () => {
  // Planned 380 s; the samples, ten seconds apart, cover 350 s of it: 12 in each third.
  const samples = Array.from({ length: 36 }, (_, i) => ({ t: 600 + 5 + i * 10, value: 100 - i }))
  assert.equal(segmentQuartiles(samples), [], 'on their own span: two segments')
  const levels = segmentQuartiles(samples, 380)
  assert.is(levels.length, 3)
  assert.equal(
    levels.map((x) => x.value),
    [100 - 9, 100 - 21, 100 - 33],
    'each the lower quartile of its third: the third of its twelve from the bottom',
  )
})

test("nodes sampled together: each node's level, added up, whatever the phase", () => {
  // Each node's store climbs 2 a second for 45 s from 100 and drops back, the three out of
  // step; a quarter of each one's samples are at or below 122.
  const node = (offset: number, grow = 0) =>
    seconds((t) => 100 + ((t + offset) % 45) * 2 + grow * t)
  const levels = summedQuartiles([node(0), node(15), node(30)])
  assert.is(levels.length, 5)
  assert.ok(
    levels.every((x) => Math.abs(x.value - 3 * 122) <= 6),
    JSON.stringify(levels),
  )
  const judged = judgeGrowth([node(0), node(15), node(30)], 0, 600)
  assert.ok(judged && Math.abs(judged.growth) < 0.02, JSON.stringify(judged))
  const growing = judgeGrowth([node(0, 0.25), node(15, 0.25), node(30, 0.25)], 0, 600)
  assert.ok(growing && growing.growth > 0.3, 'each level rises by 150 over 600 s')
  assert.ok(growing.last - growing.first > 3 * 100, JSON.stringify(growing))
})

test('nodes sampled together: a node without samples in a segment, no verdict', () => {
  const node = seconds(() => 100)
  const stopped = node.filter((x) => x.t < 200 || x.t > 400)
  assert.equal(summedQuartiles([node, stopped]), [])
  assert.equal(summedQuartiles([]), [])
  assert.is(judgeGrowth([node, stopped], 0, 600), null)
  assert.is(judgeGrowth([node], 300, 300), null, 'from 300 s on: fewer than three segments')
})

test.run()
