import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { floor, relativeGrowth, segmentFloors } from '../../scripts/lib/growth.ts'

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

test('troughs by segment: a saw-tooth slower than a fixed window levels off, rising troughs grow', () => {
  // Ten minutes sampled every 10 s; a tooth of 80 s climbing 10 a sample from 100 (RocksDB
  // compacting every 80 s), as in a soak: a 60 s floor swings with where each sweep fell.
  const samples = Array.from({ length: 61 }, (_, i) => ({ t: i * 10, value: 0 }))
  const tooth = (t: number) => 100 + ((t / 10) % 8) * 10
  const flat = samples.map(({ t }) => ({ t, value: tooth(t) }))
  const troughs = segmentFloors(flat)
  assert.is(troughs.length, 5, 'five segments of two minutes')
  assert.ok(troughs.every((x) => x.value === 100))
  assert.is(relativeGrowth(troughs), 0)
  const rising = samples.map(({ t }) => ({ t, value: tooth(t) + t / 4 }))
  assert.ok(relativeGrowth(segmentFloors(rising)) > 0.4, 'the troughs rise by 150 over 600 s')
})

test('troughs by segment: too short a span to cut in three gives nothing to judge', () => {
  const short = Array.from({ length: 30 }, (_, i) => ({ t: i * 10, value: 1 }))
  assert.equal(segmentFloors(short), [])
  assert.equal(segmentFloors([]), [])
})

test('troughs by segment: the planned span sets how many, not the samples falling short of it', () => {
  // Planned 380 s; the samples, ten seconds apart, cover 350 s of it.
  const samples = Array.from({ length: 36 }, (_, i) => ({ t: 600 + 5 + i * 10, value: 100 - i }))
  assert.equal(segmentFloors(samples), [], 'on their own span: two segments')
  const troughs = segmentFloors(samples, 380)
  assert.is(troughs.length, 3)
  assert.equal(
    troughs.map((x) => x.value),
    [100 - 11, 100 - 23, 100 - 35],
    'each the lowest of its third',
  )
})

test.run()
