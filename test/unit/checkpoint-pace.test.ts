import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { CheckpointPace } from '../../src/downloads/checkpoint-pace.ts'

test('a copy to the successors every step of progress, from where the attempt started', () => {
  const pace = new CheckpointPace({ step: 10, logEveryMs: 10_000, progress: 35, now: 0 })
  assert.equal(
    [40, 44, 45, 50, 56, 80].map((p) => pace.copyDue(p)),
    [false, false, true, false, true, true],
  )
})

test('the log gets one when no successor took the copy, or once its interval passed', () => {
  const pace = new CheckpointPace({ step: 10, logEveryMs: 10_000, progress: 0, now: 0 })
  assert.not.ok(pace.writeDue(10, true, 1_000), 'a successor holds it')
  assert.ok(pace.writeDue(20, false, 2_000), 'nobody took it: the log must')
  assert.not.ok(pace.writeDue(20, false, 3_000), 'the log already holds that progress')
  assert.not.ok(pace.writeDue(60, true, 11_999))
  assert.ok(pace.writeDue(70, true, 12_000), '10 s after the last write')
  assert.not.ok(pace.writeDue(80, true, 13_000))
})

test.run()
