import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { DiskSpace, diskLowMessage } from '../../src/disk-space.ts'
import { fakeClock } from '../helpers/clock.ts'

const MB = 1024 * 1024

function setup() {
  const clock = fakeClock()
  const disk = { free: 500 * MB }
  const changes: [boolean, number][] = []
  const errors: string[] = []
  const space = new DiskSpace({
    dir: '/data',
    reserveBytes: 64 * MB,
    clock,
    measure: async () => {
      if (disk.free < 0) throw new Error('EIO')
      return disk.free
    },
    onChange: (low, free) => changes.push([low, free]),
    onError: (err) => errors.push(err.message),
  })
  return { clock, disk, changes, errors, space }
}

test('below the reserve the disk is low; it is fine again only with a margin over it', async () => {
  const s = setup()
  await s.space.start()
  assert.equal(s.changes, [])
  s.disk.free = 10 * MB
  await s.clock.tick(1000)
  assert.equal(s.changes, [[true, 10 * MB]])
  s.disk.free = 70 * MB
  await s.clock.tick(1000)
  assert.is(s.space.state.low, true, 'just over the reserve is not enough')
  s.disk.free = 100 * MB
  await s.clock.tick(1000)
  assert.equal(s.changes.at(-1), [false, 100 * MB])
  s.space.stop()
})

test('a failed measure is reported and changes nothing', async () => {
  const s = setup()
  s.disk.free = -1
  await s.space.start()
  assert.equal(s.errors, ['EIO'])
  assert.is(s.space.state.low, false)
  s.space.stop()
})

test('the disk-low line says when the node resumes, or that its file system is too small ever to', () => {
  assert.is(
    diskLowMessage(64, 100_000),
    'below --min-free-mb (64 MB): new downloads are refused and workers paused until free space is back above 96 MB',
  )
  assert.is(diskLowMessage(64, null), diskLowMessage(64, 100_000), 'size unknown: as usual')
  // A 40 MB volume under the default reserve: it can never have 96 MB free.
  assert.match(
    diskLowMessage(64, 40),
    /this file system holds 40 MB in all, so it will never have the 96 MB free they need to resume: give the node a larger one, or a --min-free-mb of at most 13$/,
  )
})

test.run()
