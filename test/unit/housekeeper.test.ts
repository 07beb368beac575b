import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Housekeeper } from '../../src/downloads/housekeeper.ts'
import type { DiskFileRef, Download } from '../../src/store/record.ts'
import type { FileRef } from '../../src/store/file-store.ts'
import { fakeClock } from '../helpers/clock.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'
import { download, FILE_REF } from '../helpers/records.ts'
import type { Released } from '../../src/store/record-table.ts'

const file = { ...FILE_REF, filename: 'report.pdf', contentType: 'application/pdf' }

/** A housekeeper over these records, keeping the files of the users in `keeps`. */
function keeper(
  records: Download[],
  keeps: Set<string>,
  live: { ids: string },
  room = { ok: true },
) {
  const clock = fakeClock()
  const prefetched: FileRef[] = []
  const h = new Housekeeper({
    records: { purge: () => [], all: () => records, now: () => clock.now() },
    files: { prefetch: (ref) => void prefetched.push(ref), remove: async () => {} },
    keepsCopy: (d) => keeps.has(d.userId),
    mayCopy: () => room.ok,
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

test('no file is copied while the disk is low; once there is room, what was skipped is', () => {
  const kept = download({ userId: 'u1', state: 'ready', file })
  const room = { ok: false }
  const { h, prefetched } = keeper([kept], new Set(['u1']), { ids: 'a,b,c' }, room)
  h.prefetch(kept)
  assert.equal(prefetched, [], 'each copy would fail for want of space')
  room.ok = true
  h.copyAgain()
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

test('a purge says what it released: dismissed as dismissed, and what expired long before in one line', async () => {
  const clock = fakeClock()
  const log = recordingLogger()
  const now = clock.now()
  const released: Released[] = [
    {
      download: download({ id: 'done', state: 'ready', file, expiresAt: now - 500 }),
      dismissed: false,
    },
    { download: download({ id: 'gone', state: 'pending', expiresAt: now - 500 }), dismissed: true },
    // Expired unfinished: how far it got is said.
    {
      download: download({ id: 'lost', state: 'pending', progress: 30, expiresAt: now - 500 }),
      dismissed: false,
    },
    // Read from the log after a restart, expired an hour ago: purged before, here or elsewhere.
    ...['old1', 'old2', 'old3'].map((id) => ({
      download: download({ id, state: 'ready' as const, expiresAt: now - 3_600_000 }),
      dismissed: false,
    })),
  ]
  const removed: string[] = []
  const purged: string[] = []
  const h = new Housekeeper({
    records: { purge: () => released.splice(0), all: () => [], now: () => clock.now() },
    files: {
      prefetch: () => {},
      remove: async (ref) => void removed.push((ref as DiskFileRef).name),
    },
    keepsCopy: () => false,
    liveMembers: () => 'a',
    clock,
    intervalMs: 1000,
    log,
    onPurged: (d) => void purged.push(d.id),
    onSweep: () => {},
  })
  h.sweep()
  assert.equal(purged, ['done', 'gone', 'lost', 'old1', 'old2', 'old3'], 'every one is released')
  assert.equal(removed, [(FILE_REF as DiskFileRef).name])
  assert.equal(
    log.events('purged').map((e) => [e.fields.id, e.fields.state]),
    [
      ['done', 'ready'],
      ['gone', 'dismissed'],
      ['lost', 'pending'],
    ],
  )
  const [lost] = log.events('purged').filter((e) => e.fields.id === 'lost')
  assert.is(lost!.fields.progress, '30%')
  assert.match(String(lost!.fields.message), /expired before it was made/)
  assert.is(log.events('purged')[1]!.fields.message, undefined, 'a dismissal is no loss')
  assert.equal(
    log.events('purged-expired-before').map((e) => e.fields.count),
    [3],
  )
})

test.run()
