import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ApplyWatch } from '../../src/store/apply-watch.ts'
import { fakeClock } from '../helpers/clock.ts'

/** A base whose passes end when the test says, and whose headway the test sets. */
function base() {
  const passes: (() => void)[] = []
  return {
    passes,
    headway: 0,
    probe() {
      return new Promise<void>((resolve) => passes.push(resolve))
    },
    endPass() {
      passes.shift()?.()
    },
  }
}

function watch(b: ReturnType<typeof base>, stalls: number[]) {
  const clock = fakeClock()
  const w = new ApplyWatch({
    clock,
    probe: () => b.probe(),
    progress: () => b.headway,
    stallMs: 10_000,
    checkMs: 1000,
    onStall: (ms) => stalls.push(ms),
  })
  return { clock, w }
}

test('passes that end are never a stall, however many there are', async () => {
  const b = base()
  const stalls: number[] = []
  const { clock, w } = watch(b, stalls)
  w.start()
  for (let i = 0; i < 60; i++) {
    await clock.tick(1000)
    b.endPass()
  }
  assert.equal(stalls, [])
  assert.ok(b.passes.length <= 1, 'one pass at a time')
  w.stop()
})

test('a pass that neither ends nor moves is told once, after stallMs', async () => {
  const b = base()
  const stalls: number[] = []
  const { clock, w } = watch(b, stalls)
  w.start()
  await clock.tick(1000) // the pass starts
  await clock.tick(9000)
  assert.equal(stalls, [], 'not before stallMs')
  assert.is(w.stalledMs(), 9000)
  await clock.tick(1000)
  assert.equal(stalls, [10_000])
  await clock.tick(30_000)
  assert.equal(stalls, [10_000], 'told once per pass')
  assert.is(b.passes.length, 1, 'no second pass is started beside a stuck one')
  w.stop()
  assert.is(w.stalledMs(), 0)
})

test('a long pass that keeps moving is not a stall; once it stops moving it is', async () => {
  const b = base()
  const stalls: number[] = []
  const { clock, w } = watch(b, stalls)
  w.start()
  await clock.tick(1000)
  for (let i = 0; i < 30; i++) {
    b.headway += 5 // thousands of operations applied, a few at a time
    await clock.tick(1000)
  }
  assert.equal(stalls, [])
  await clock.tick(9000)
  assert.equal(stalls, [])
  await clock.tick(1000)
  assert.equal(stalls, [10_000])
  w.stop()
})

test('a shrinking view (a reorder truncates it) counts as headway', async () => {
  const b = base()
  b.headway = 100
  const stalls: number[] = []
  const { clock, w } = watch(b, stalls)
  w.start()
  await clock.tick(1000)
  await clock.tick(8000)
  b.headway = 90
  await clock.tick(8000)
  assert.equal(stalls, [])
  w.stop()
})

test('a pass that fails ends like one that succeeds; stop ends the looking', async () => {
  const clock = fakeClock()
  let probes = 0
  const stalls: number[] = []
  const w = new ApplyWatch({
    clock,
    probe: () => {
      probes++
      return Promise.reject(new Error('closed'))
    },
    progress: () => 0,
    stallMs: 10_000,
    checkMs: 1000,
    onStall: (ms) => stalls.push(ms),
  })
  w.start()
  await clock.tick(20_000)
  assert.equal(stalls, [])
  assert.ok(probes >= 10, `a new pass after each failed one (${probes})`)
  w.stop()
  const before = probes
  await clock.tick(20_000)
  assert.is(probes, before)
})

test.run()
