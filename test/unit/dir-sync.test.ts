import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { DirSync, type DirHandle } from '../../src/store/dir-sync.ts'

/** A directory whose syncs finish when the test says, counting what was asked of it. */
function fakeDir() {
  const pending: { resolve: () => void; reject: (err: Error) => void }[] = []
  const counts = { opened: 0, synced: 0, closed: 0 }
  const handle: DirHandle = {
    sync: () => {
      counts.synced++
      return new Promise((resolve, reject) => pending.push({ resolve, reject }))
    },
    close: async () => {
      counts.closed++
    },
  }
  const openDir = async () => {
    counts.opened++
    return handle
  }
  return { pending, counts, openDir }
}

const turn = () => new Promise((r) => setImmediate(r))
const failure = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (err: Error) => err.message,
  )

test('callers during a sync share the next one; the directory is opened once', async () => {
  const d = fakeDir()
  const dir = new DirSync('/nowhere', d.openDir)
  const order: string[] = []
  const first = dir.sync().then(() => order.push('first'))
  await turn()
  assert.is(d.counts.synced, 1)
  // Their renames may have come after the running sync started: it does not cover them.
  const second = dir.sync().then(() => order.push('second'))
  const third = dir.sync().then(() => order.push('third'))
  await turn()
  assert.is(d.counts.synced, 1, 'no second sync while the first runs')
  d.pending.shift()!.resolve()
  await first
  await turn()
  assert.equal(order, ['first'], 'the later callers wait for a sync of their own')
  assert.is(d.counts.synced, 2, 'one sync for both')
  d.pending.shift()!.resolve()
  await Promise.all([second, third])
  assert.equal(order, ['first', 'second', 'third'])
  // Nothing running: the next caller starts a sync at once.
  const fourth = dir.sync()
  await turn()
  assert.is(d.counts.synced, 3)
  d.pending.shift()!.resolve()
  await fourth
  assert.is(d.counts.opened, 1)
  await dir.close()
  assert.is(d.counts.closed, 1)
  assert.match((await failure(dir.sync())) ?? '', /closed/)
})

test("a failed sync fails its callers, not the next round's", async () => {
  const d = fakeDir()
  const dir = new DirSync('/nowhere', d.openDir)
  const first = dir.sync()
  await turn()
  const second = dir.sync()
  d.pending.shift()!.reject(new Error('EIO'))
  assert.is(await failure(first), 'EIO')
  await turn()
  d.pending.shift()!.resolve()
  await second
})

test('a directory that cannot be opened fails the sync, and is opened again next time', async () => {
  let fail = true
  const d = fakeDir()
  const dir = new DirSync('/nowhere', async (p) => {
    if (fail) throw new Error('ENOENT')
    return d.openDir()
  })
  assert.is(await failure(dir.sync()), 'ENOENT')
  fail = false
  const again = dir.sync()
  await turn()
  d.pending.shift()!.resolve()
  await again
  await dir.close()
})

test('close waits for the syncs under way', async () => {
  const d = fakeDir()
  const dir = new DirSync('/nowhere', d.openDir)
  const first = dir.sync()
  await turn()
  const second = dir.sync()
  let closed = false
  const closing = dir.close().then(() => (closed = true))
  d.pending.shift()!.resolve()
  await first
  await turn()
  assert.not.ok(closed, 'the second round still runs')
  d.pending.shift()!.resolve()
  await second
  await closing
  assert.is(d.counts.closed, 1)
})

test.run()
