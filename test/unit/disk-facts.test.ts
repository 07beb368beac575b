import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { describeDisk, diskFactsFrom } from '../../scripts/lib/disk-facts.ts'

const MOUNTINFO = [
  '22 27 0:21 / /proc rw,relatime - proc proc rw',
  '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard',
  '30 25 0:27 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683784k',
  '41 27 8:17 / /srv/my\\040data rw,relatime - ext4 /dev/sdb1 rw',
  '42 27 8:33 / /tmpx rw,relatime - xfs /dev/sdc1 rw',
].join('\n')

test('the longest mount point a path is under, and whether its ext4 has a journal', () => {
  assert.equal(diskFactsFrom('/tmp/pdf-cluster-x', MOUNTINFO, []), {
    path: '/tmp/pdf-cluster-x',
    mountPoint: '/',
    fsType: 'ext4',
    device: '/dev/vda',
    journal: false,
  })
  assert.is(diskFactsFrom('/tmp/x', MOUNTINFO, ['vda-8'])?.journal, true)
  // Another disk's journal is not this one's.
  assert.is(diskFactsFrom('/tmp/x', MOUNTINFO, ['vdaa-8', 'sdb1-8'])?.journal, false)
})

test('a mount point with a space, one that only shares a prefix, and other file systems', () => {
  assert.is(diskFactsFrom('/srv/my data/n1', MOUNTINFO, ['sdb1-8'])?.journal, true)
  assert.is(diskFactsFrom('/srv/my data/n1', MOUNTINFO, [])?.device, '/dev/sdb1')
  assert.is(diskFactsFrom('/tmpx/a', MOUNTINFO, [])?.fsType, 'xfs')
  assert.is(diskFactsFrom('/tmpx/a', MOUNTINFO, [])?.journal, null)
  assert.is(diskFactsFrom('/tmpxy/a', MOUNTINFO, [])?.mountPoint, '/')
  assert.is(diskFactsFrom('/dev/shm/a', MOUNTINFO, [])?.fsType, 'tmpfs')
})

test('no mount at all is said so, and each kind of disk in words', () => {
  assert.is(diskFactsFrom('/a', '', []), null)
  assert.is(describeDisk(null), 'data disk: unknown')
  assert.match(
    describeDisk(diskFactsFrom('/tmp/x', MOUNTINFO, [])!),
    /ext4 without a journal on \/dev\/vda/,
  )
  assert.match(describeDisk(diskFactsFrom('/tmp/x', MOUNTINFO, ['vda-8'])!), /ext4 with a journal/)
  assert.is(
    describeDisk(diskFactsFrom('/tmpx/a', MOUNTINFO, [])!),
    'data under /tmpx/a: xfs on /dev/sdc1',
  )
})

test.run()
