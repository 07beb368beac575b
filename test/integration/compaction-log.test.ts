/**
 * Compaction on one node's record log, over a real corestore on disk: what is carried, what a
 * write racing the move becomes, a stop in the middle, and the disk the sweep gets back.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import Corestore from 'corestore'
import Hypercore from 'hypercore'
import { RecordLog } from '../../src/store/record-log.ts'
import type { RecordOp } from '../../src/store/record.ts'
import { readPointer } from '../../src/store/log-pointer.ts'
import { sweepCores } from '../../src/store/core-sweep.ts'
import { RetiringStorage } from '../../src/store/retiring-storage.ts'
import { get, purge } from '../../src/store/record-table.ts'
import { dirBytes } from '../../src/disk-space.ts'
import { tempDir } from '../helpers/node.ts'
import { download } from '../helpers/records.ts'

const NOW = 50_000
const time = { now: () => NOW }

async function openLog(dir: string, moveStepMs?: number) {
  const store = new Corestore(new RetiringStorage(`${dir}/store`))
  const errors: Error[] = []
  const log = new RecordLog({
    store,
    dataDir: dir,
    recordTime: time,
    moveStepMs,
    onError: (err) => errors.push(err),
  })
  await log.ready()
  return {
    log,
    store,
    errors,
    close: async () => {
      await log.close()
      await store.close()
    },
  }
}

/** The dismissal of u1's download 'mine', as a peer writes it. */
const dismissal: RecordOp = {
  type: 'remove',
  id: 'mine',
  userId: 'u1',
  at: NOW,
  expiresAt: NOW + 10_000,
}

const settled = (log: RecordLog) =>
  new Promise<void>((resolve) => (log.settled() ? resolve() : log.once('settled', () => resolve())))

test('an append is told with the key of the log it landed on; a peer’s operations merge early only into that log', async () => {
  const dir = await tempDir()
  const a = await openLog(dir.path)
  try {
    const told: [string, string][] = []
    const landed: string[] = []
    const idOf = (op: RecordOp) => (op.type === 'put' ? op.download.id : op.id)
    const events: string[] = []
    a.log.on('writing', (key, op) => {
      // Shown here as its write starts, as on its peers: the group commit's window is not waited for.
      const shown = get(a.log.table, idOf(op), NOW) ? 'shown' : 'not shown'
      events.push(`writing ${idOf(op)} ${key.slice(0, 4)} ${shown}`)
    })
    a.log.on('written', (key, op) => told.push([key, idOf(op)]))
    a.log.on('unwritten', (op) => events.push(`unwritten ${idOf(op)}`))
    a.log.on('landed', (ops) => landed.push(...ops.map(idOf)))
    const key = a.log.key.toString('hex')
    const appended = a.log.append({ type: 'put', download: download({ id: 'mine', userId: 'u1' }) })
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(
      events,
      [`writing mine ${key.slice(0, 4)} shown`],
      'peers may be told as it starts',
    )
    assert.equal(told, [], 'before it is written')
    await appended
    assert.equal(told, [[key, 'mine']], 'after it landed, with its log')
    assert.ok(a.log.caughtUp(), 'its table follows its view: purges may go on')

    const theirs = download({ id: 'theirs', userId: 'u2', expiresAt: NOW + 10_000 })
    assert.is(a.log.mergeEarly('f'.repeat(64), [{ type: 'put', download: theirs }]), false)
    assert.is(get(a.log.table, 'theirs', NOW), null, 'not from another log')
    const changed = new Promise<Set<string>>((resolve) => a.log.once('change', resolve))
    assert.is(a.log.mergeEarly(key, [{ type: 'put', download: theirs }]), true)
    assert.ok((await changed).has('theirs'), 'shown at once')
    assert.is(get(a.log.table, 'theirs', NOW)!.userId, 'u2')
    assert.is(told.length, 1, 'what a peer wrote is not told again')
    assert.equal(landed, ['mine'], 'read from the log: what was merged early was not')
  } finally {
    await a.close()
    await dir.remove()
  }
})

test('a write told to peers as it started, then the node closes: it is written before the log closes', async () => {
  const dir = await tempDir()
  const a = await openLog(dir.path)
  const events: string[] = []
  let closed: Promise<void> | null = null
  a.log.on('writing', () => {
    events.push('writing')
    closed = a.log.close() // the node stops between telling its peers and writing
  })
  a.log.on('written', () => events.push('written'))
  a.log.on('unwritten', () => events.push('unwritten'))
  const failed = await a.log
    .append({ type: 'put', download: download({ id: 'cut', userId: 'u9' }) })
    .then(
      () => null,
      (err: Error) => err,
    )
  await closed
  // Its pages and peers were told as it started: the gathering batch is written, not dropped.
  assert.is(failed, null)
  assert.equal(events, ['writing', 'written'])
  // Written after the close began: refused, and nothing told.
  const late = await a.log
    .append({ type: 'put', download: download({ id: 'late', userId: 'u8' }) })
    .then(
      () => null,
      (err: Error) => err,
    )
  assert.match(late?.message ?? '', /closed/)
  assert.equal(events, ['writing', 'written'])
  await a.store.close()
  await dir.remove()
})

test('what a peer wrote to a log this node is about to adopt is merged when it moves there', async () => {
  const [dirA, dirB] = [await tempDir(), await tempDir()]
  const a = await openLog(dirA.path)
  const b = await openLog(dirB.path)
  try {
    const mine = download({ id: 'mine', userId: 'u1', expiresAt: NOW + 10_000 })
    await a.log.append({ type: 'put', download: mine })
    // b moved to a fresh log first, and dismissed the download there.
    await b.log.compact()
    const key = b.log.key.toString('hex')
    assert.is(a.log.mergeEarly(key, [dismissal]), false, 'not merged into the log a is on')
    assert.ok(get(a.log.table, 'mine', NOW), 'a still shows it')
    await a.log.adopt(key, 1, 0)
    assert.is(a.log.key.toString('hex'), key)
    assert.is(
      get(a.log.table, 'mine', NOW),
      null,
      'the dismissal made on the new log is there at once',
    )
  } finally {
    await Promise.all([a.close(), b.close()])
    await Promise.all([dirA.remove(), dirB.remove()])
  }
})

test('a compaction from a log adopted but not settled on is a generation past it', async () => {
  const [dirA, dirB] = [await tempDir(), await tempDir()]
  const a = await openLog(dirA.path)
  const b = await openLog(dirB.path)
  try {
    // b moved to a log of generation 1 that a cannot write (b never admits it), and a follows
    // with a record b lacks: its carry waits for a writer, so a's pointer stays on generation 0.
    await a.log.append({ type: 'put', download: download({ id: 'mine', userId: 'u1' }) })
    await b.log.compact()
    const orphan = b.log.key.toString('hex')
    await a.log.adopt(orphan, 1, 0)
    assert.is(a.log.key.toString('hex'), orphan)
    assert.not.ok(a.log.writable)
    assert.not.ok(a.log.settled(), 'the carry waits for a writer')
    assert.is(a.log.advert()?.generation, 1)
    // Moving off it (an orphaned log's move does not wait to settle): generation 2, which wins.
    await a.log.compact()
    assert.is.not(a.log.key.toString('hex'), orphan)
    assert.is(a.log.advert()?.generation, 2)
    assert.ok(get(a.log.table, 'mine', NOW), 'the record carried')
  } finally {
    await Promise.all([a.close(), b.close()])
    await Promise.all([dirA.remove(), dirB.remove()])
  }
})

test('what a peer still on the log this node left writes there is merged at once', async () => {
  const dir = await tempDir()
  const a = await openLog(dir.path)
  try {
    const mine = download({ id: 'mine', userId: 'u1', expiresAt: NOW + 10_000 })
    await a.log.append({ type: 'put', download: mine })
    const oldKey = a.log.key.toString('hex')
    // a compacts; a peer that has not followed yet dismisses the download on the old log.
    await a.log.compact()
    assert.is.not(a.log.key.toString('hex'), oldKey)
    assert.is(a.log.mergeEarly(oldKey, [dismissal]), true, 'kept for the peer as its own')
    assert.is(get(a.log.table, 'mine', NOW), null, 'shown at once, not once the peer follows')
    assert.is(a.log.mergeEarly('e'.repeat(64), [dismissal]), false, 'a log it was never on')
  } finally {
    await a.close()
    await dir.remove()
  }
})

test('a compaction moves to a fresh log one generation on, carrying live records and dismissals only', async () => {
  const dir = await tempDir()
  let n = await openLog(dir.path)
  try {
    const live = download({ id: 'live', userId: 'u1', expiresAt: NOW + 10_000 })
    const expired = download({ id: 'old', userId: 'u2', expiresAt: NOW - 1 })
    const dismissed = download({ id: 'gone', userId: 'u3', expiresAt: NOW + 10_000 })
    for (const d of [live, expired, dismissed]) await n.log.append({ type: 'put', download: d })
    const removal = {
      type: 'remove' as const,
      id: 'gone',
      userId: 'u3',
      at: NOW,
      expiresAt: NOW + 20_000,
    }
    await n.log.append(removal)
    // Enough churn to make the old log long.
    for (let i = 0; i < 30; i++) {
      await n.log.append({ type: 'put', download: { ...live, version: i + 2, updatedAt: i } })
    }
    purge(n.log.table, NOW) // as the housekeeper does every second: 'old' is released
    const before = n.log.advert()
    assert.is(before.generation, 0)
    assert.ok(before.length >= 34)

    await n.log.compact()
    await settled(n.log)
    const after = n.log.advert()
    assert.is(after.generation, 1)
    assert.is.not(after.key, before.key)
    assert.ok(after.length < 5, `the fresh log holds what was carried, got ${after.length}`)
    assert.is(get(n.log.table, 'live', NOW)?.version, 31)
    assert.ok(n.log.table.entries.get('gone')?.removed, 'the dismissal was carried')
    assert.not.ok(n.log.table.entries.has('old'), 'an expired record is left behind')
    assert.equal(await readPointer(dir.path), {
      key: after.key,
      namespace: (await readPointer(dir.path))!.namespace,
      generation: 1,
    })

    // A restart opens the fresh log, with everything carried written to it.
    await n.close()
    n = await openLog(dir.path)
    assert.is(n.log.advert().key, after.key)
    assert.is(n.log.advert().generation, 1)
    assert.is(get(n.log.table, 'live', NOW)?.version, 31)
    assert.ok(n.log.table.entries.get('gone')?.removed)
    assert.equal(n.errors, [])
  } finally {
    await n.close()
    await dir.remove()
  }
})

test('a move goes on when the log left never drains nor closes, carrying what it held', async () => {
  const dir = await tempDir()
  const n = await openLog(dir.path, 300)
  const never = () => new Promise<void>(() => {})
  try {
    const live = download({ id: 'live', userId: 'u1', expiresAt: NOW + 10_000 })
    await n.log.append({ type: 'put', download: live })
    // As a base whose update loop is stuck (a chaos soak met one after its store was reopened).
    const old = (n.log as unknown as { base: { drain(): Promise<void>; close(): Promise<void> } })
      .base
    const close = old.close.bind(old)
    old.drain = never
    old.close = never
    const before = n.log.advert()
    await n.log.compact()
    await settled(n.log)
    const after = n.log.advert()
    assert.is(after.generation, 1, 'on the fresh log')
    assert.is.not(after.key, before.key)
    assert.is(get(n.log.table, 'live', NOW)?.version, live.version, 'the record was carried')
    assert.equal(
      n.errors.map((e) => e.message.replace(before.key.slice(0, 12), 'KEY')),
      [
        'leaving the log KEY: draining the log left took longer than 0 s; moved on',
        'leaving the log KEY: closing the log left took longer than 0 s; moved on',
      ],
    )
    // A move after it is not held by the one before.
    await n.log.compact()
    await settled(n.log)
    assert.is(n.log.advert().generation, 2)
    await close()
  } finally {
    await n.close()
    await dir.remove()
  }
})

test('a move from a log already closed under it (its store failed) tells no error and carries what it held', async () => {
  const dir = await tempDir()
  const n = await openLog(dir.path, 300)
  try {
    const live = download({ id: 'live', userId: 'u1', expiresAt: NOW + 10_000 })
    await n.log.append({ type: 'put', download: live })
    const old = (n.log as unknown as { base: { close(): Promise<void> } }).base
    await old.close()
    const before = n.log.advert()
    await n.log.compact()
    await settled(n.log)
    assert.is.not(n.log.advert().key, before.key, 'on the fresh log')
    assert.is(get(n.log.table, 'live', NOW)?.version, live.version, 'the record was carried')
    assert.equal(
      n.errors.map((e) => e.message),
      [],
      'leaving a closed log is not a failure',
    )
  } finally {
    await n.close()
    await dir.remove()
  }
})

test('a record expired but not purged yet is merged into the fresh log’s table, not written to it', async () => {
  const dir = await tempDir()
  const n = await openLog(dir.path)
  try {
    const live = download({ id: 'live', userId: 'u1', expiresAt: NOW + 10_000 })
    await n.log.append({ type: 'put', download: live })
    for (let i = 0; i < 20; i++) {
      const old = download({ id: `old${i}`, userId: `o${i}`, state: 'ready', expiresAt: NOW - 1 })
      await n.log.append({ type: 'put', download: old })
    }
    // The housekeeper has not purged them yet (it runs every second, on each node at its time).
    await n.log.compact()
    await settled(n.log)
    assert.is(n.log.ops(), 1, 'the fresh log holds the live record only')
    const released = purge(n.log.table, NOW).map((r) => r.download.id)
    assert.is(released.length, 20, 'their purge still frees their files here')
    assert.ok(get(n.log.table, 'live', NOW))
    assert.equal(n.errors, [])
  } finally {
    await n.close()
    await dir.remove()
  }
})

test('an append made in the turn a compaction starts lands, and is on the fresh log', async () => {
  const dir = await tempDir()
  let n = await openLog(dir.path)
  try {
    await n.log.append({ type: 'put', download: download({ id: 'a', expiresAt: NOW + 9000 }) })
    const racing = download({ id: 'racing', userId: 'u9', expiresAt: NOW + 9000 })
    const [appended] = await Promise.allSettled([
      n.log.append({ type: 'put', download: racing }),
      n.log.compact(),
    ])
    assert.is(appended.status, 'fulfilled')
    await settled(n.log)
    assert.is(n.log.generation, 1)
    assert.ok(get(n.log.table, 'racing', NOW))
    // And an append made while the move is under way goes to the fresh log.
    const moving = n.log.compact()
    const during = n.log.append({
      type: 'put',
      download: download({ id: 'during', userId: 'u8', expiresAt: NOW + 9000 }),
    })
    await Promise.all([moving, during])
    await settled(n.log)
    await n.close()
    n = await openLog(dir.path)
    assert.is(n.log.generation, 2)
    for (const id of ['a', 'racing', 'during']) assert.ok(get(n.log.table, id, NOW), id)
  } finally {
    await n.close()
    await dir.remove()
  }
})

test('a node stopped in the middle of a compaction loses nothing', async () => {
  const dir = await tempDir()
  let n = await openLog(dir.path)
  try {
    for (let i = 0; i < 20; i++) {
      await n.log.append({
        type: 'put',
        download: download({ id: `d${i}`, userId: `u${i}`, expiresAt: NOW + 9000 }),
      })
    }
    void n.log.compact().catch(() => {})
    await n.close() // waits for the move, but not for the carried records to land
    n = await openLog(dir.path)
    for (let i = 0; i < 20; i++) assert.ok(get(n.log.table, `d${i}`, NOW), `d${i}`)
    // Wherever it stopped, a compaction now still works.
    await n.log.compact()
    await settled(n.log)
    for (let i = 0; i < 20; i++) assert.ok(get(n.log.table, `d${i}`, NOW), `d${i} once more`)
  } finally {
    await n.close()
    await dir.remove()
  }
})

test('the sweep deletes the cores of the log left behind and gets the disk back', async () => {
  const dir = await tempDir()
  let n = await openLog(dir.path)
  try {
    const pad = 'x'.repeat(2000)
    for (let i = 0; i < 300; i++) {
      await n.log.append({
        type: 'put',
        download: download({
          id: `d${i}`,
          userId: `u${i}`,
          state: 'error',
          error: pad,
          expiresAt: i < 290 ? NOW - 1 : NOW + 9000,
        }),
      })
    }
    purge(n.log.table, NOW)
    const oldKey = n.log.key
    await n.log.compact()
    await settled(n.log)
    await n.store.storage.compact()
    const before = await dirBytes(`${dir.path}/store`, true)
    // The old log's cores are still open (corestore would close them a few seconds after the
    // log): the sweep closes them itself and deletes them at once.
    const result = await sweepCores(n.store, n.log.writerKeys())
    assert.ok(result.deleted >= 1, `deleted ${result.deleted}`)
    assert.is(result.closing, 0)
    const after = await dirBytes(`${dir.path}/store`, true)
    assert.ok(after < before / 2, `the store shrank from ${before} to ${after} bytes`)
    assert.not.ok(await n.store.storage.hasCore(Hypercore.discoveryKey(oldKey)))

    // What is left is the log this node is on, whole: it reopens with its records.
    await n.close()
    n = await openLog(dir.path)
    for (let i = 290; i < 300; i++) assert.ok(get(n.log.table, `d${i}`, NOW), `d${i}`)
    await n.log.append({ type: 'put', download: download({ id: 'next', expiresAt: NOW + 9000 }) })
    assert.ok(get(n.log.table, 'next', NOW))
  } finally {
    await n.close()
    await dir.remove()
  }
})

test('a node adopts again a log of its generation it left and swept, as the writer it was there', async () => {
  const dirs = [await tempDir(), await tempDir(), await tempDir()]
  let a = await openLog(dirs[0]!.path)
  const b = await openLog(dirs[1]!.path)
  const c = await openLog(dirs[2]!.path)
  try {
    const bKey = b.log.key.toString('hex')
    const cKey = c.log.key.toString('hex')
    // Nodes that meet at once: a adopts b's log, then c's, while the election settles.
    await a.log.adopt(bKey, 0, 0)
    const writer = a.log.advert().writer
    await a.log.adopt(cKey, 0, 0)
    assert.ok(a.log.returnableWriters().includes(writer))
    const swept = await sweepCores(a.store, [...a.log.writerKeys(), ...a.log.returnableWriters()])
    assert.ok(swept.deleted >= 1, `the rest of b's log is deleted (${swept.deleted})`)
    const stored = (key: string) =>
      a.store.storage.hasCore(Hypercore.discoveryKey(Buffer.from(key, 'hex')))
    assert.ok(await stored(writer), 'its writer on b’s log is kept')

    await a.log.adopt(bKey, 0, 0)
    assert.is(a.log.key.toString('hex'), bKey)
    assert.is(a.log.advert().writer, writer, 'the writer the others know, perhaps an indexer')

    // A restart forgets which writers it may come back to: the sweep deletes the writer, and
    // adopting b's log again writes under a new one rather than failing for good.
    await a.log.adopt(cKey, 0, 0)
    await settled(a.log)
    await a.close()
    a = await openLog(dirs[0]!.path)
    assert.is(a.log.key.toString('hex'), cKey)
    assert.equal(a.log.returnableWriters(), [])
    await sweepCores(a.store, a.log.writerKeys())
    assert.not.ok(await stored(writer), 'deleted by the sweep after the restart')
    const renewed: string[] = []
    a.log.on('writer-renewed', (key) => renewed.push(key))
    await a.log.adopt(bKey, 0, 0)
    assert.is(a.log.key.toString('hex'), bKey)
    assert.equal(renewed, [bKey])
    const fresh = a.log.advert().writer
    assert.is.not(fresh, writer)
    // The pointer names the new writer's namespace: a restart reopens it.
    await settled(a.log)
    await a.close()
    a = await openLog(dirs[0]!.path)
    assert.is(a.log.key.toString('hex'), bKey)
    assert.is(a.log.advert().writer, fresh)
    assert.equal(a.errors, [])
  } finally {
    await Promise.all([a.close(), b.close(), c.close()])
    await Promise.all(dirs.map((d) => d.remove()))
  }
})

test.run()
