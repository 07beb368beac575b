import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { rejects } from 'node:assert/strict'
import { Closers } from '../../src/closers.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'

test('parts close in the reverse order of opening, once, however often close is called', async () => {
  const closed: string[] = []
  const closers = new Closers(recordingLogger())
  for (const name of ['store', 'log', 'web']) closers.add(name, name, (n) => closed.push(n))
  await Promise.all([closers.closeAll(), closers.closeAll()])
  assert.equal(closed, ['web', 'log', 'store'])
})

test('a part that fails to close does not keep the others open, and the failure is reported', async () => {
  const closed: string[] = []
  const log = recordingLogger()
  const closers = new Closers(log)
  closers.add('store', null, () => closed.push('store'))
  closers.add('log', null, async () => {
    throw new Error('flush failed')
  })
  closers.add('web', null, () => closed.push('web'))
  await rejects(() => closers.closeAll(), /could not close log: flush failed/)
  assert.equal(closed, ['web', 'store'])
  assert.equal(
    log.events('close-failed').map((e) => e.fields.part),
    ['log'],
  )
})

test.run()
