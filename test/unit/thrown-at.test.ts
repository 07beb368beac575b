import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { thrownMessage } from '../../src/downloads/thrown-at.ts'

test('whatever a job throws, its user is shown a message that says something', () => {
  const cycle: Record<string, unknown> = {}
  cycle.self = cycle
  assert.is(thrownMessage(new Error('database unreachable')), 'database unreachable')
  assert.is(thrownMessage(new TypeError('')), 'TypeError')
  assert.is(thrownMessage('out of paper'), 'out of paper')
  assert.is(thrownMessage(undefined), 'The job failed without a message (it threw undefined).')
  assert.is(thrownMessage(null), 'The job failed without a message (it threw null).')
  assert.is(thrownMessage(''), 'The job failed without a message (it threw "").')
  assert.is(thrownMessage({ code: 42 }), '{"code":42}')
  assert.is(thrownMessage({}), 'The job failed without a message (it threw [object Object]).')
  assert.is(thrownMessage(cycle), 'The job failed without a message (it threw [object Object]).')
  assert.is(thrownMessage(42), '42')
  assert.is(thrownMessage({ text: 'x'.repeat(500) }).length, 200)
})

test.run()
