import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { TokenBuckets } from '../../src/token-bucket.ts'
import { fakeClock } from '../helpers/clock.ts'

test('a burst is allowed, then one action per interval, and the wait is told', async () => {
  const clock = fakeClock()
  const limits = new TokenBuckets({ burst: 3, intervalMs: 2000, clock })
  assert.equal([limits.take('u'), limits.take('u'), limits.take('u')], [0, 0, 0])
  assert.is(limits.take('u'), 2000)
  await clock.tick(1500)
  assert.is(limits.take('u'), 500)
  await clock.tick(500)
  assert.is(limits.take('u'), 0)
  assert.is(limits.take('other'), 0, 'each key has its own bucket')
})

test('an idle key refills to the burst and no further', async () => {
  const clock = fakeClock()
  const limits = new TokenBuckets({ burst: 2, intervalMs: 1000, clock })
  limits.take('u')
  limits.take('u')
  await clock.tick(60_000)
  assert.equal([limits.take('u'), limits.take('u'), limits.take('u') > 0], [0, 0, true])
})

test('keys whose bucket refilled are forgotten', async () => {
  const clock = fakeClock()
  const limits = new TokenBuckets({ burst: 1, intervalMs: 10, clock })
  for (let i = 0; i < 10_001; i++) limits.take(`user-${i}`)
  await clock.tick(20)
  limits.take('one-more')
  assert.is(limits.size, 1)
})

test.run()
