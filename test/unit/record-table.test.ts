import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { RecordOp } from '../../src/store/record.ts'
import {
  carriedOps,
  unexpired,
  missingFrom,
  applyOp,
  createTable,
  currentFor,
  get,
  purge,
  servable,
  visibleRecords,
  type RecordTable,
} from '../../src/store/record-table.ts'
import { download, permutations } from '../helpers/records.ts'

function tableOf(ops: RecordOp[]): RecordTable {
  const t = createTable()
  for (const op of ops) applyOp(t, op)
  return t
}

function snapshot(t: RecordTable, now: number) {
  return {
    visible: visibleRecords(t, now).sort((a, b) => a.id.localeCompare(b.id)),
    current: currentFor(t, 'user-1', now),
  }
}

const base = download({ id: 'x', version: 1 })
const processing = {
  ...base,
  state: 'processing' as const,
  version: 2,
  progress: 10,
  updatedAt: 2000,
}
const halfway = { ...base, state: 'processing' as const, version: 3, progress: 50, updatedAt: 3000 }
const ready = {
  ...base,
  state: 'ready' as const,
  version: 4,
  progress: 100,
  updatedAt: 4000,
  finishedAt: 4000,
}

test('every order of the same writes gives the same view', () => {
  const ops: RecordOp[] = [processing, ready, base, halfway].map((d) => ({
    type: 'put',
    download: d,
  }))
  const expected = snapshot(tableOf(ops), 5000)
  assert.is(expected.current?.state, 'ready')
  for (const order of permutations(ops)) assert.equal(snapshot(tableOf(order), 5000), expected)
})

test('applying an operation twice changes nothing (autobase may re-apply a reordered tail)', () => {
  const ops: RecordOp[] = [base, processing, halfway].map((d) => ({ type: 'put', download: d }))
  const once = snapshot(tableOf(ops), 5000)
  const twice = snapshot(tableOf([...ops, ...ops.slice().reverse()]), 5000)
  assert.equal(twice, once)
})

test('a write from an older epoch loses to a newer epoch in every order', () => {
  const successor = {
    ...halfway,
    epoch: 2,
    version: 1,
    owner: 'node-b',
    progress: 60,
    updatedAt: 3500,
  }
  const stale = { ...halfway, epoch: 1, version: 9, owner: 'node-a', progress: 90, updatedAt: 9000 }
  const ops: RecordOp[] = [base, halfway, successor, stale].map((d) => ({
    type: 'put',
    download: d,
  }))
  for (const order of permutations(ops)) {
    const t = tableOf(order)
    assert.is(get(t, 'x', 5000)?.owner, 'node-b')
    assert.is(get(t, 'x', 5000)?.epoch, 2)
  }
})

test('a finished download stays finished: no late or stale running write sends it back, in any order', () => {
  const takeover = { ...halfway, epoch: 2, version: 1, owner: 'node-b', updatedAt: 8000 }
  const done = { ...ready, epoch: 1, version: 4, owner: 'node-a' }
  const failedLater = { ...done, state: 'error' as const, epoch: 2, version: 2, owner: 'node-b' }
  for (const order of permutations([base, processing, takeover, done])) {
    const t = tableOf(order.map((download): RecordOp => ({ type: 'put', download })))
    assert.is(get(t, 'x', 5000)?.state, 'ready')
    assert.is(get(t, 'x', 5000)?.owner, 'node-a')
  }
  // Between two finished writes (a partition's two owners), the newer epoch, as everywhere.
  for (const order of permutations([done, failedLater, takeover])) {
    const t = tableOf(order.map((download): RecordOp => ({ type: 'put', download })))
    assert.is(get(t, 'x', 5000)?.state, 'error')
  }
})

test('ties that a correct cluster never produces still resolve the same way everywhere', () => {
  const a = { ...processing, ownerName: 'a', progress: 20 }
  const b = { ...processing, ownerName: 'b', progress: 30 }
  const ab = tableOf([
    { type: 'put', download: a },
    { type: 'put', download: b },
  ])
  const ba = tableOf([
    { type: 'put', download: b },
    { type: 'put', download: a },
  ])
  assert.equal(get(ab, 'x', 5000), get(ba, 'x', 5000))
})

test('a dismissal wins over every write, in every order, also one that arrives first', () => {
  const remove: RecordOp = {
    type: 'remove',
    id: 'x',
    userId: 'user-1',
    at: 3000,
    expiresAt: 200_000,
  }
  const ops: RecordOp[] = [
    remove,
    ...[base, processing, ready].map((d): RecordOp => ({ type: 'put', download: d })),
  ]
  for (const order of permutations(ops)) {
    const t = tableOf(order)
    assert.is(get(t, 'x', 5000), null)
    assert.is(currentFor(t, 'user-1', 5000), null)
  }
})

test('two concurrent inserts for one user: every node picks the same current download', () => {
  const first = download({ id: 'bbb', createdAt: 1000 })
  const second = download({ id: 'aaa', createdAt: 1001 })
  const same = download({ id: 'ccc', createdAt: 1000 })
  const ops: RecordOp[] = [first, second, same].map((d) => ({ type: 'put', download: d }))
  for (const order of permutations(ops))
    assert.is(currentFor(tableOf(order), 'user-1', 2000)?.id, 'bbb')
})

test('a record is invisible from its expiry on, and purge releases it once', () => {
  const t = tableOf([{ type: 'put', download: { ...ready, expiresAt: 10_000 } }])
  assert.is(get(t, 'x', 9_999)?.state, 'ready')
  assert.is(get(t, 'x', 10_000), null)
  assert.is(currentFor(t, 'user-1', 10_000), null)
  assert.equal(purge(t, 9_999), [])
  assert.equal(
    purge(t, 10_000).map((r) => [r.download.id, r.dismissed]),
    [['x', false]],
  )
  assert.equal(purge(t, 10_001), [])
  assert.is(t.entries.size, 0, 'the entry itself is forgotten')
  assert.is(t.byUser.size, 0)
})

test('purge keeps a marker while an older, longer-lived write could still arrive', () => {
  // The running record had a longer lease than the finished one's retention.
  const running = { ...processing, expiresAt: 50_000 }
  const done = { ...ready, expiresAt: 20_000 }
  const t = tableOf([
    { type: 'put', download: running },
    { type: 'put', download: done },
  ])
  assert.equal(
    purge(t, 20_000).map((r) => r.download.state),
    ['ready'],
  )
  assert.ok(t.entries.has('x'))
  // The older write is re-applied after the purge (autobase reordered its tail): it stays dead.
  applyOp(t, { type: 'put', download: running })
  assert.is(get(t, 'x', 30_000), null)
  assert.equal(purge(t, 30_000), [])
  purge(t, 50_000)
  assert.is(t.entries.size, 0)
})

test('a dismissed ready record still serves its file until it expires', () => {
  const t = tableOf([
    { type: 'put', download: { ...ready, expiresAt: 10_000 } },
    { type: 'remove', id: 'x', userId: 'user-1', at: 5000, expiresAt: 30_000 },
  ])
  assert.is(get(t, 'x', 6000), null)
  assert.is(servable(t, 'x', 6000)?.id, 'x')
  assert.is(servable(t, 'x', 10_000), null)
  assert.equal(purge(t, 6000), [])
  assert.equal(
    purge(t, 10_000).map((r) => [r.download.id, r.dismissed]),
    [['x', true]],
  )
})

test('a running record is not servable', () => {
  const t = tableOf([{ type: 'put', download: halfway }])
  assert.is(servable(t, 'x', 5000), null)
})

test('applyOp names the record an operation changed, and nothing for one merged before or one that lost', () => {
  const t = createTable()
  const v1 = download({ id: 'x', userId: 'u', version: 1, expiresAt: 500 })
  const v2 = { ...v1, version: 2, progress: 50 }
  assert.is(applyOp(t, { type: 'put', download: v1 }), 'x', 'a new record')
  assert.is(applyOp(t, { type: 'put', download: v2 }), 'x', 'a newer write')
  // As read back from the log after the peer's message merged it: an equal copy.
  assert.is(applyOp(t, { type: 'put', download: { ...v2 } }), null, 'the same write again')
  assert.is(applyOp(t, { type: 'put', download: v1 }), null, 'an older write')
  const removal: RecordOp = { type: 'remove', id: 'x', userId: 'u', at: 90, expiresAt: 800 }
  assert.is(applyOp(t, removal), 'x', 'a dismissal')
  assert.is(t.byUser.get('u').size, 0, 'a dismissed record is no longer looked through')
  assert.is(applyOp(t, { type: 'put', download: { ...v2, version: 3 } }), 'x', 'a later write')
  assert.is(get(t, 'x', 100), null, 'still dismissed')
  assert.is(
    applyOp(t, { ...removal, expiresAt: 900 }),
    null,
    'a second dismissal shows nothing new',
  )
  assert.is(t.entries.get('x')?.removed?.expiresAt, 900, 'but the later-expiring one is kept')
  assert.is(applyOp(t, { ...removal, id: 'y' }), 'y', 'a dismissal before its record')
})

test('what a log carries: records until purged, live dismissals; and of those, what another log lacks', () => {
  const t = createTable()
  const live = download({ id: 'live', userId: 'a', expiresAt: 500 })
  const expired = download({ id: 'old', userId: 'b', expiresAt: 50 })
  const gone = download({ id: 'gone', userId: 'c', state: 'ready', expiresAt: 500 })
  const removal: RecordOp = { type: 'remove', id: 'gone', userId: 'c', at: 90, expiresAt: 800 }
  for (const d of [live, expired, gone]) applyOp(t, { type: 'put', download: d })
  applyOp(t, removal)
  const put = (download: typeof live): RecordOp => ({ type: 'put', download })
  // The expired and the dismissed record go along until purged: their purge frees their files.
  assert.equal(carriedOps(t, 100), [put(live), put(expired), put(gone), removal])
  // Written to the new log: not the expired one, which no node can show; the dismissed one, whose
  // link still works until it expires, is.
  assert.equal(unexpired(carriedOps(t, 100), 100), [put(live), put(gone), removal])
  purge(t, 100)
  const carried = carriedOps(t, 100)
  assert.equal(carried, [put(live), put(gone), removal], 'a purged record stays behind')
  purge(t, 600)
  assert.equal(carriedOps(t, 600), [removal], 'the dismissal outlives its record')
  assert.equal(carriedOps(t, 900), [], 'nothing once all expired')

  // The log moved to already holds the records, at an older version and at this one.
  const other = createTable()
  assert.equal(missingFrom(other, carried), carried, 'an empty log lacks everything')
  applyOp(other, { type: 'put', download: { ...live, version: 0 } })
  applyOp(other, removal)
  assert.equal(missingFrom(other, carried), [put(live), put(gone)], 'a newer write, a record')
  applyOp(other, put(live))
  applyOp(other, put(gone))
  assert.equal(missingFrom(other, carried), [], 'nothing when it holds the same')
  applyOp(other, { type: 'put', download: { ...live, version: 9 } })
  assert.equal(missingFrom(other, carried), [], 'nor an older write than it holds')
})

test.run()
