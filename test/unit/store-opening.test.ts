import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { STORE_OPEN_SLOW_MS, cannotOpen, toldIfSlow } from '../../src/store-opening.ts'
import { fakeClock } from '../helpers/clock.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'

test('an open of the store that never ends is told once, with what to do; one that ends in time is not', async () => {
  const clock = fakeClock()
  const log = recordingLogger()
  let open!: () => void
  const opening = toldIfSlow(new Promise<void>((r) => (open = r)), { dir: '/d', clock, log })
  await clock.tick(STORE_OPEN_SLOW_MS - 1)
  assert.equal(log.events('store-open-slow'), [], 'not yet')
  await clock.tick(1)
  const [told, ...more] = log.events('store-open-slow')
  assert.equal(more, [])
  assert.is(told!.level, 'warn')
  assert.match(
    String(told!.fields.message),
    /delete \/d\/store and \/d\/log\.json, keeping node-id/,
  )
  open()
  await opening
  const quick = recordingLogger()
  await toldIfSlow(Promise.resolve(), { dir: '/d', clock, log: quick })
  await clock.tick(2 * STORE_OPEN_SLOW_MS)
  assert.equal(quick.events('store-open-slow'), [], 'its timer is cleared')
  // A failed open passes its error on, and is not told as slow either.
  await clock.tick(0)
  const failed = toldIfSlow(Promise.reject(new Error('no')), { dir: '/d', clock, log: quick })
  await failed.then(
    () => assert.unreachable('rejected'),
    (err: Error) => assert.is(err.message, 'no'),
  )
  await clock.tick(2 * STORE_OPEN_SLOW_MS)
  assert.equal(quick.events('store-open-slow'), [])
})

test('a store copied or put back is told as such; other failures as they are', () => {
  const copied = Object.assign(new Error('Invalid device file, was modified'), {
    code: 'DEVICE_FILE',
  })
  assert.match(
    cannotOpen('/d', copied).message,
    /^cannot open the store in \/d: Invalid device file, was modified \(this store was copied/,
  )
  assert.is(cannotOpen('/d', new Error('EIO')).message, 'cannot open the store in /d: EIO')
})

test.run()
