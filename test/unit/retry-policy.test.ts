import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MAX_RETRY_DELAY_MS, retryDelayMs } from '../../src/downloads/retry-policy.ts'

test('the wait doubles with each failed attempt, between half and all of it', () => {
  assert.is(
    retryDelayMs(1, 1000, () => 0),
    500,
  )
  assert.is(
    retryDelayMs(1, 1000, () => 1),
    1000,
  )
  assert.is(
    retryDelayMs(2, 1000, () => 0),
    1000,
  )
  assert.is(
    retryDelayMs(3, 1000, () => 1),
    4000,
  )
  assert.is(
    retryDelayMs(3, 1000, () => 0.5),
    3000,
  )
})

test('the wait is capped, however many attempts failed', () => {
  assert.is(
    retryDelayMs(40, 1000, () => 1),
    MAX_RETRY_DELAY_MS,
  )
  assert.is(
    retryDelayMs(1, 10 * MAX_RETRY_DELAY_MS, () => 0),
    MAX_RETRY_DELAY_MS / 2,
  )
})

test.run()
