import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RaceWatch } from '../../src/downloads/race-watch.ts'
import { fakeClock } from '../helpers/clock.ts'
import { download } from '../helpers/records.ts'

test('a request loses only to one made before it (or at the same moment with a smaller id)', () => {
  const clock = fakeClock()
  const races = new RaceWatch(clock, 30_000)
  races.track(download({ id: 'mine', userId: 'u1', createdAt: 100 }))
  assert.equal(races.lost('u1', download({ id: 'later', userId: 'u1', createdAt: 101 })), [])
  assert.equal(races.lost('u1', download({ id: 'zzz', userId: 'u1', createdAt: 100 })), [])
  assert.equal(races.lost('u1', download({ id: 'aaa', userId: 'u1', createdAt: 100 })), ['mine'])
  assert.equal(
    races.lost('u1', download({ id: 'aaa', userId: 'u1', createdAt: 100 })),
    [],
    'reported once',
  )
})

test('a dismissal settles the user’s races, and a race watched long enough is forgotten', async () => {
  const clock = fakeClock()
  const races = new RaceWatch(clock, 30_000)
  const earlier = download({ id: 'aaa', userId: 'u1', createdAt: 1 })
  races.track(download({ id: 'mine', userId: 'u1', createdAt: 100 }))
  races.settle('u1')
  assert.equal(races.lost('u1', earlier), [])
  races.track(download({ id: 'mine2', userId: 'u1', createdAt: 100 }))
  await clock.tick(30_001)
  races.expire()
  assert.equal(races.lost('u1', earlier), [])
})

test.run()
