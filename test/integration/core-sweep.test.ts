/**
 * When a node sweeps its store (store/sweeper.ts): a while after it moves to another log, and
 * not never when it moves often; and what a sweep deletes (store/core-sweep.ts).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import Corestore from 'corestore'
import { sweepCores } from '../../src/store/core-sweep.ts'
import { Sweeper } from '../../src/store/sweeper.ts'
import { fakeClock } from '../helpers/clock.ts'
import { tempDir } from '../helpers/node.ts'
import { eventually } from '../../scripts/lib/eventually.ts'

async function setup(
  closing: () => number = () => 0,
  closingIds: (lingering: ReadonlySet<string>) => string[] = () => [],
) {
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
    sweep: async (_store, _keep, lingering = new Set()) => ({
      deleted: 0,
      closing: closing(),
      closeStarted: 0,
      kept: 0,
      ms: 0,
      closingIds: closingIds(lingering),
    }),
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
  const store = new Corestore(dir.path)
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

test('a sweep hands the cores it found closing to the next, if that one comes 10 s or more later', async () => {
  const seen: string[][] = []
  const s = await setup(
    () => 1,
    (lingering) => {
      seen.push([...lingering])
      return ['c1']
    },
  )
  try {
    s.sweeper.start()
    await s.clock.tick(30_000)
    await eventually(() => s.ended.count === 1, 'the first sweep')
    await s.clock.tick(30_000)
    await eventually(() => s.ended.count === 2, 'the follow-up')
    // One right after another (it came due while one ran): corestore's countdowns run on.
    await s.sweeper.run()
    assert.equal(seen, [[], ['c1'], []])
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

test('a core left behind counts as closing, and as closeStarted once its close is under way', () =>
  withStore(async (store) => {
    const core = store.get({ name: 'left-behind' })
    await core.ready()
    const id = core.discoveryKey!.toString('hex')
    await core.close()
    const counted = await sweepCores(store, [])
    assert.is(counted.closing, 1, 'no session, still open: handed to the idle collection')
    assert.is(counted.closeStarted, 0, 'its countdown has only begun')
    // The countdown over, a close that does not finish (what store-swept now tells apart).
    const open = store.cores.map.get(id)!
    open.closing = new Promise(() => {})
    const again = await sweepCores(store, [])
    assert.is(again.closeStarted, 1)
    assert.is(again.stuck, undefined, 'not found closing at the sweep before')
    // Found so at two sweeps 10 s apart: a close that hangs, said as such.
    const later = await sweepCores(store, [], new Set(again.closingIds))
    assert.equal([later.closing, later.reclaimed, later.stuck], [1, 0, { closeHangs: 1 }])
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

/** The sweep after the one that closed `id` deletes it, from the disk too. */
async function deletedByNext(store: Corestore, closingIds: string[] | undefined, id: string) {
  const next = await sweepCores(store, [], new Set(closingIds))
  assert.equal([next.deleted, next.closing], [1, 0])
  assert.is(await store.storage.hasCore(Buffer.from(id, 'hex')), false, 'gone from the disk')
}

test('a core that is opened again between sweeps is closed by the next sweep itself, then deleted', () =>
  withStore(async (store) => {
    const { id } = await leftBehind(store, 'ping-pong')
    const first = await sweepCores(store, [])
    assert.equal(first.closingIds, [id], 'handed to the idle collection')
    // A peer opens a channel for it (corestore's _attachMaybe): its countdown stops, and the
    // next sweep finds it open and unused again, as two nodes holding it can do for ever.
    store.cores.resume(id)
    assert.is(store.cores.map.get(id)!.gc, 0)
    const unaware = await sweepCores(store, [])
    assert.equal([unaware.deleted, unaware.closing], [0, 1], 'only handed over afresh')
    store.cores.resume(id)
    const second = await sweepCores(store, [], new Set(unaware.closingIds))
    assert.equal(
      [second.deleted, second.closing, second.reclaimed],
      [0, 1, 1],
      'closed, not yet deleted',
    )
    assert.not.ok(store.cores.map.has(id), 'out of the map, as the idle collection leaves it')
    assert.ok(await store.storage.hasCore(Buffer.from(id, 'hex')))
    await deletedByNext(store, second.closingIds, id)
  }))

test('a lingering core whose countdown was started afresh is closed by the sweep too', () =>
  withStore(async (store) => {
    const { id } = await leftBehind(store, 'idle-again')
    const first = await sweepCores(store, [])
    // A peer's replicator attaches (the countdown stops), then goes idle: hypercore's onidle
    // starts it again, so a sweep 10 s on finds it counting down, not stopped.
    store.cores.resume(id)
    store.cores.gc(store.cores.map.get(id)!)
    assert.ok(store.cores.map.get(id)!.gc > 0)
    const second = await sweepCores(store, [], new Set(first.closingIds))
    assert.equal([second.deleted, second.closing, second.reclaimed], [0, 1, 1])
    assert.not.ok(store.cores.map.has(id), 'closed and out of the map')
    await deletedByNext(store, second.closingIds, id)
  }))

test('a lingering core in use again is left alone', () =>
  withStore(async (store) => {
    const { id, key } = await leftBehind(store, 'used-again')
    const first = await sweepCores(store, [])
    const again = store.get({ key })
    await again.ready()
    const used = await sweepCores(store, [], new Set(first.closingIds))
    assert.equal([used.deleted, used.closing, used.reclaimed], [0, 0, 0])
    assert.is((await again.get(0))!.toString(), 'a block of a log left behind')
    assert.ok(store.cores.map.has(id))
    await again.close()
  }))

test.run()
