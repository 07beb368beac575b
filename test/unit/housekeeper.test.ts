import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Housekeeper } from '../../src/downloads/housekeeper.ts'
import type { DiskFileRef, Download } from '../../src/store/record.ts'
import type { FileRef } from '../../src/store/file-store.ts'
import { fakeClock } from '../helpers/clock.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'
import { download, FILE_REF } from '../helpers/records.ts'

const file = { ...FILE_REF, filename: 'report.pdf', contentType: 'application/pdf' }

/** A housekeeper over these records, keeping the files of the users in `keeps`. */
function keeper(records: Download[], keeps: Set<string>, live: { ids: string }) {
  const clock = fakeClock()
  const prefetched: FileRef[] = []
  const h = new Housekeeper({
    records: { purge: () => [], all: () => records },
    files: { prefetch: (ref) => void prefetched.push(ref), remove: async () => {} },
    keepsCopy: (d) => keeps.has(d.userId),
    liveMembers: () => live.ids,
    clock,
    intervalMs: 1000,
    log: recordingLogger(),
    onPurged: () => {},
    onSweep: () => {},
  })
  return { h, clock, prefetched }
}

test('a ready file is copied here only if this node keeps a copy of it, and once', () => {
  const kept = download({ userId: 'u1', state: 'ready', file })
  const other = download({ userId: 'u2', state: 'ready', file: { ...file, name: 'file-000005' } })
  const { h, prefetched } = keeper([kept, other], new Set(['u1']), { ids: 'a,b,c' })
  h.prefetch(kept)
  h.prefetch(kept)
  h.prefetch(other)
  h.prefetch(download({ userId: 'u1', state: 'processing' }))
  h.prefetch(null)
  assert.equal(prefetched, [file])
})

test('when the live members change, the files this node now keeps are copied', async () => {
  const a = download({ userId: 'u1', state: 'ready', file })
  const b = download({ userId: 'u2', state: 'ready', file: { ...file, name: 'file-000005' } })
  const keeps = new Set(['u1'])
  const live = { ids: 'a,b,c' }
  const { h, clock, prefetched } = keeper([a, b], keeps, live)
  h.start()
  await clock.tick(1000)
  assert.equal(prefetched.length, 1, 'the first sweep copies what this node keeps')
  // The member that kept u2's copy died: this node is next in line.
  keeps.add('u2')
  await clock.tick(1000)
  assert.equal(prefetched.length, 1, 'nothing changes while the members do not')
  live.ids = 'a,b'
  await clock.tick(1000)
  assert.equal(
    prefetched.map((r) => (r as DiskFileRef).name),
    ['file-000000', 'file-000000', 'file-000005'],
    'u2’s file now, u1’s asked again',
  )
  // At each change every file this node keeps is asked for again (a copy that gave up is
  // tried anew; the store skips what it holds).
  live.ids = 'a,b,d'
  await clock.tick(1000)
  assert.is(prefetched.length, 5)
  h.stop()
})

test.run()
