import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { floor, relativeGrowth } from '../../scripts/lib/growth.ts'

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

test.run()
