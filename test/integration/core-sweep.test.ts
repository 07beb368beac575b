/**
 * When a node sweeps its store (store/sweeper.ts): a while after it moves to another log, and
 * not never when it moves often; and what a sweep deletes (store/core-sweep.ts).
 */
import type { Duplex } from 'node:stream'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import Corestore from 'corestore'
import { sweepCores } from '../../src/store/core-sweep.ts'
import { RetiringStorage } from '../../src/store/retiring-storage.ts'
import { Sweeper } from '../../src/store/sweeper.ts'
import { CoreBirths } from '../../src/store/core-births.ts'
import { fakeClock } from '../helpers/clock.ts'
import { tempDir } from '../helpers/node.ts'
import { eventually } from '../../scripts/lib/eventually.ts'

async function setup(closing: () => number = () => 0) {
  const dir = await tempDir('pdf-cluster-sweep-')
  const store = new Corestore(dir.path)
  const clock = fakeClock()
  /** When each sweep started, and how many have ended (on the store's own time). */
  const swept: number[] = []
  const ended = { count: 0, idleMs: [] as (number | null)[] }
  const sweeper = new Sweeper({
    store,
    keep: () => [],
    settled: () => true,
    afterMoveMs: 30_000,
    clock,
    onStart: async () => void swept.push(clock.now()),
    onSwept: ({ idleMs }) => {
      ended.count++
      ended.idleMs.push(idleMs)
    },
    onError: (err) => assert.unreachable(err.message),
    sweep: async () => ({ deleted: 0, closing: closing(), closeStarted: 0, kept: 0, ms: 0 }),
  })
  return {
    clock,
    swept,
    ended,
    sweeper,
    close: async () => {
      await sweeper.stop()
      await store.close()
      await dir.remove()
    },
  }
}

/** A corestore of its own on disk for the body, closed and removed after. */
async function withStore(body: (store: Corestore) => Promise<void>): Promise<void> {
  const dir = await tempDir('pdf-cluster-sweep-')
  const store = new Corestore(new RetiringStorage(dir.path))
  try {
    await body(store)
  } finally {
    await store.close()
    await dir.remove()
  }
}

test('moves every 20 s do not put the sweep off: it comes 30 s after the first', async () => {
  const s = await setup()
  try {
    const start = s.clock.now()
    s.sweeper.start()
    for (let i = 0; i < 3; i++) {
      await s.clock.tick(20_000)
      s.sweeper.soon() // another compaction
      if (s.swept.length > 0) break
    }
    await eventually(() => s.swept.length > 0, 'a sweep while the moves go on')
    assert.is(s.swept[0]! - start, 30_000)
  } finally {
    await s.close()
  }
})

test('a move with no sweep pending sweeps 30 s later', async () => {
  const s = await setup()
  try {
    s.sweeper.start()
    await s.clock.tick(30_000)
    await eventually(() => s.ended.count === 1, 'the first sweep')
    // Nothing left closing: the next is the hourly one, unless the node moves.
    const moved = s.clock.now() + 60_000
    await s.clock.tick(60_000)
    s.sweeper.soon()
    await s.clock.tick(29_000)
    assert.is(s.swept.length, 1)
    await s.clock.tick(1_000)
    await eventually(() => s.swept.length === 2, 'the sweep after the move')
    assert.is(s.swept[1]! - moved, 30_000)
  } finally {
    await s.close()
  }
})

test('a store written to sweeps once it has been quiet for a minute, not at every write', async () => {
  const s = await setup()
  try {
    s.sweeper.start()
    await s.clock.tick(30_000)
    await eventually(() => s.ended.count === 1, 'the first sweep')
    // A busy spell: a write every 10 s for two minutes keeps putting the quiet sweep off.
    for (let i = 0; i < 12; i++) {
      s.sweeper.wrote()
      await s.clock.tick(10_000)
    }
    assert.is(s.swept.length, 1)
    const last = s.clock.now() - 10_000
    await s.clock.tick(49_999)
    assert.is(s.swept.length, 1)
    await s.clock.tick(1)
    await eventually(() => s.ended.count === 2, 'the sweep after the spell')
    assert.is(s.swept[1]! - last, 60_000)
    // It says how long the store had been quiet (the soak waits for such a sweep).
    assert.equal(s.ended.idleMs, [null, 60_000])
    // Quiet with nothing written since: no more sweeps before the hourly one.
    await s.clock.tick(10 * 60_000)
    assert.is(s.swept.length, 2)
  } finally {
    await s.close()
  }
})

test('cores still closing a minute after a move are looked at again, less and less often, until they have closed', async () => {
  let closing = 2
  const s = await setup(() => closing)
  try {
    const moved = s.clock.now()
    s.sweeper.start()
    const at = async (n: number) => {
      await eventually(() => s.ended.count === n, `sweep ${n}`)
      return s.swept[n - 1]! - moved
    }
    await s.clock.tick(30_000)
    assert.is(await at(1), 30_000)
    await s.clock.tick(30_000)
    assert.is(await at(2), 60_000, 'within the minute: every 30 s')
    // Past the minute, the waits double: 60 s, 120 s, 240 s.
    await s.clock.tick(60_000)
    assert.is(await at(3), 120_000)
    await s.clock.tick(120_000)
    assert.is(await at(4), 240_000)
    closing = 0
    await s.clock.tick(240_000)
    assert.is(await at(5), 480_000, 'then they had closed')
    // Nothing left closing: the next is the hourly one.
    await s.clock.tick(30 * 60_000)
    assert.is(s.swept.length, 5)
  } finally {
    await s.close()
  }
})

test('a core whose close does not end is left for the next sweep, and said to hang', () =>
  withStore(async (store) => {
    const core = store.get({ name: 'left-behind' })
    await core.ready()
    const id = core.discoveryKey!.toString('hex')
    await core.close()
    // Corestore's countdown over, a close that does not finish (a channel's handler that never
    // settles holds it).
    const open = store.cores.map.get(id)!
    open.closing = new Promise(() => {})
    const hung = await sweepCores(store, [])
    assert.equal([hung.deleted, hung.closing, hung.closeStarted, hung.reclaimed], [0, 1, 1, 0])
    assert.equal(hung.stuck, { closeHangs: 1 })
    assert.ok(await store.storage.hasCore(Buffer.from(id, 'hex')), 'back for peers: not deleted')
    open.closing = null
  }))

/** A core of a log this node left: written once, its session closed, still open in the store. */
async function leftBehind(store: Corestore, name: string) {
  const core = store.get({ name })
  await core.append(Buffer.from('a block of a log left behind'))
  const id = core.discoveryKey!.toString('hex')
  const key = core.key!
  await core.close()
  return { id, key }
}

test('a core open with no session is closed and deleted by one sweep', () =>
  withStore(async (store) => {
    const { id } = await leftBehind(store, 'left')
    assert.ok(store.cores.map.has(id), 'open, as a peer that replicates it keeps it')
    const swept = await sweepCores(store, [])
    assert.equal([swept.deleted, swept.closing, swept.reclaimed], [1, 0, 1])
    assert.is(swept.stuck, undefined)
    assert.not.ok(store.cores.map.has(id), 'out of the map, as the idle collection leaves it')
    assert.is(await store.storage.hasCore(Buffer.from(id, 'hex')), false, 'gone from the disk')
  }))

test('a core in use again is left alone', () =>
  withStore(async (store) => {
    const { id, key } = await leftBehind(store, 'used-again')
    const again = store.get({ key })
    await again.ready()
    const used = await sweepCores(store, [])
    assert.equal([used.deleted, used.closing, used.reclaimed], [0, 0, 0])
    assert.is((await again.get(0))!.toString(), 'a block of a log left behind')
    assert.ok(store.cores.map.has(id))
    await again.close()
  }))

test('a core first opened since the log this node is on began to open is kept though closed; one of a log left is not', () =>
  withStore(async (store) => {
    let now = 1000
    const births = new CoreBirths(store, { now: () => now })
    const closedCore = async (name: string) => {
      const core = store.get({ name })
      await core.append(Buffer.from(name))
      const id = core.discoveryKey!.toString('hex')
      await core.close()
      return id
    }
    const left = await closedCore('a view of a log left behind')
    now = 2000 // the move: the log this node is on begins to open
    // As autobase's createView: made for the next indexers, closed, and opened again later.
    const next = await closedCore('the next view of the log this node is on')
    assert.equal(births.since(2000), [next])
    const swept = await sweepCores(store, [], births.since(2000))
    assert.equal(swept.deletedIds, [left])
    assert.is(swept.spared, 1, 'counted as kept for being born since')
    assert.is(await store.storage.hasCore(Buffer.from(next, 'hex')), true, 'kept')
    births.forget(swept.deletedIds!)
    assert.equal(births.since(0), [next], 'a deleted core is forgotten')
  }))

test('a core a peer still holds is deleted in one sweep, and its asking again does not bring it back', async () => {
  const dirs = await Promise.all([0, 1].map(() => tempDir('pdf-cluster-sweep-')))
  const [a, b] = dirs.map((d) => new Corestore(new RetiringStorage(d.path))) as [
    Corestore,
    Corestore,
  ]
  const sa = a.replicate(true) as Duplex
  const sb = b.replicate(false) as Duplex
  sa.pipe(sb).pipe(sa)
  try {
    const written = a.get({ name: 'old-log' })
    await written.append([Buffer.from('one'), Buffer.from('two')])
    const { discoveryKey, key } = written
    const id = discoveryKey!.toString('hex')
    await written.close()
    // The peer holds the core and replicates it with this node: it stays open here for it.
    const held = b.get({ key: key! })
    assert.is((await held.get(0))!.toString(), 'one')
    assert.ok(a.cores.map.has(id))
    const swept = await sweepCores(a, [])
    assert.equal([swept.deleted, swept.closing, swept.reclaimed], [1, 0, 1])
    // The peer asks for a block only this node had: nothing here opens the core for it.
    await held.get(1, { timeout: 500 }).catch(() => null)
    assert.not.ok(a.cores.map.has(id), 'not opened again for the peer')
    assert.is(await a.storage.hasCore(discoveryKey!), false)
    await held.close()
  } finally {
    sa.destroy()
    sb.destroy()
    await Promise.all([a.close(), b.close()])
    await Promise.all(dirs.map((d) => d.remove()))
  }
})

test('a retired core is not here for a peer until released, and retiring waits for answers under way', async () => {
  const dir = await tempDir('pdf-cluster-sweep-')
  const storage = new RetiringStorage(dir.path)
  const store = new Corestore(storage)
  try {
    const core = store.get({ name: 'retired' })
    await core.append(Buffer.from('x'))
    const dk = core.discoveryKey!
    const id = dk.toString('hex')
    const asked = storage.hasCore(dk)
    let answered = false
    void asked.then(() => (answered = true))
    await storage.retire([id])
    assert.ok(answered, 'the answer asked before had come')
    assert.is(await asked, true, 'asked before: stored')
    assert.is(await storage.hasCore(dk), false, 'retired')
    storage.release([id])
    assert.is(await storage.hasCore(dk), true, 'released')
    await core.close()
  } finally {
    await store.close()
    await dir.remove()
  }
})

test('the sweep refuses a store that cannot retire cores', async () => {
  const dir = await tempDir('pdf-cluster-sweep-')
  const store = new Corestore(dir.path)
  try {
    await store.ready()
    const err = await sweepCores(store, []).catch((e: Error) => e)
    assert.ok(err instanceof TypeError && /RetiringStorage/.test(err.message))
  } finally {
    await store.close()
    await dir.remove()
  }
})

test.run()
