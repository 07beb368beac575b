import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { settlesWithin, within } from '../../src/clock.ts'
import { fakeClock } from '../helpers/clock.ts'

test('within: a step that hangs fails once its time is up, naming the step', async () => {
  const clock = fakeClock()
  let outcome: string | null = null
  within(clock, 30_000, 'opening the log 1a2b', new Promise<void>(() => {})).catch(
    (err: Error) => (outcome = err.message),
  )
  await clock.tick(29_999)
  assert.is(outcome, null)
  await clock.tick(1)
  assert.is(outcome, 'opening the log 1a2b took longer than 30 s')
})

test('within: a step that ends in time ends as it would, and leaves no timer behind', async () => {
  const clock = fakeClock()
  assert.is(await within(clock, 1000, 'a step', Promise.resolve(7)), 7)
  const failed = await within(clock, 1000, 'a step', Promise.reject(new Error('nope'))).catch(
    (err: Error) => err.message,
  )
  assert.is(failed, 'nope')
  let late = false
  void within(clock, 1000, 'a step', Promise.resolve()).catch(() => (late = true))
  await clock.tick(5000)
  assert.not.ok(late, 'resolved first: the timer was cleared')
})

test('settlesWithin: true for a promise that resolves or rejects in time, false for one that does not', async () => {
  const clock = fakeClock()
  assert.is(await settlesWithin(clock, 1000, Promise.resolve(1)), true)
  assert.is(await settlesWithin(clock, 1000, Promise.reject(new Error('closed'))), true)
  let answer: boolean | null = null
  void settlesWithin(clock, 5000, new Promise(() => {})).then((v) => (answer = v))
  await clock.tick(4999)
  assert.is(answer, null)
  await clock.tick(1)
  assert.is(answer, false)
})

test.run()
