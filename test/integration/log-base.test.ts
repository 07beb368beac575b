import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { Duplex } from 'node:stream'
import Corestore from 'corestore'
import { BaseClosedError, LogBase } from '../../src/store/log-base.ts'
import { systemClock, type Clock } from '../../src/clock.ts'
import { fakeClock } from '../helpers/clock.ts'
import { tempDir } from '../helpers/node.ts'
import { download } from '../helpers/records.ts'
import { eventually } from '../../scripts/lib/eventually.ts'

async function open(
  batchMs = 0,
  clock: Clock = systemClock,
  key: Buffer | null = null,
  at?: { path: string; remove: () => Promise<void> },
) {
  const dir = at ?? (await tempDir())
  const store = new Corestore(dir.path)
  const errors: Error[] = []
  const base = new LogBase({
    store,
    key,
    seed: [],
    generation: 0,
    ackIntervalMs: 1000,
    batchMs,
    clock,
    onError: (err) => errors.push(err),
    onFailed: (err) => errors.push(err),
  })
  await base.ready()
  return {
    base,
    store,
    errors,
    dir,
    /** Closes the base and its store, and leaves the directory for a reopen. */
    shut: async () => {
      await base.close()
      await store.close()
    },
    close: async () => {
      await base.close()
      await store.close()
      await dir.remove()
    },
  }
}

test('appends made in one turn of the event loop are written as one batch (group commit)', async () => {
  const s = await open()
  try {
    const records = Array.from({ length: 25 }, (_, i) => download({ id: `d${i}`, userId: `u${i}` }))
    await Promise.all(records.map((d) => s.base.append([{ type: 'put', download: d }], 1000)))
    // ...and as one block of the log: a pack (store/op-pack.ts).
    assert.equal(s.base.writeStats, { batches: 1, ops: 25, blocks: 1 })
    for (const d of records) assert.ok(s.base.table.entries.has(d.id), `${d.id} applied`)
    assert.is(s.base.ops, 25, 'the view counts the operations, not the blocks')

    // An append made after the batch was written goes in a batch of its own, in order.
    const last = download({ id: 'late', userId: 'u-late' })
    await s.base.append([{ type: 'put', download: last }], 1000)
    assert.equal(s.base.writeStats, { batches: 2, ops: 26, blocks: 2 })
    assert.ok(s.base.table.entries.has('late'))
    assert.is(s.base.ops, 26)
    assert.equal(s.errors, [])
  } finally {
    await s.close()
  }
})

const put = (id: string) => ({ type: 'put' as const, download: download({ id, userId: id }) })
/** Lets autobase's own I/O run (a real store under a fake clock). */
const io = () => new Promise((r) => setTimeout(r, 20))

test('with a window, what a node appends within it is written as one block, and nothing before it ends', async () => {
  const clock = fakeClock()
  const s = await open(50, clock)
  try {
    const first = s.base.append([put('a')], 1000)
    await io()
    await clock.tick(30)
    const second = s.base.append([put('b')], 1000)
    await io()
    assert.equal(s.base.writeStats, { batches: 0, ops: 0, blocks: 0 }, 'held for the window')
    await clock.tick(20)
    await Promise.all([first, second])
    assert.equal(s.base.writeStats, { batches: 1, ops: 2, blocks: 1 })
    assert.ok(s.base.table.entries.has('a') && s.base.table.entries.has('b'))

    // The next append opens the next window.
    const third = s.base.append([put('c')], 1000)
    await clock.tick(50)
    await third
    assert.equal(s.base.writeStats, { batches: 2, ops: 3, blocks: 2 })
  } finally {
    await s.close()
  }
})

test('draining writes a batch still gathering at once; closing refuses it', async () => {
  const clock = fakeClock()
  const s = await open(60_000, clock)
  try {
    const pending = s.base.append([put('a')], 1000)
    await io()
    // A move drains the base it leaves: what was gathering lands there, with no wait.
    await s.base.drain()
    await pending
    assert.equal(s.base.writeStats, { batches: 1, ops: 1, blocks: 1 })
    assert.ok(s.base.table.entries.has('a'))
  } finally {
    await s.close()
  }
  const t = await open(60_000, clock)
  const pending = t.base.append([put('b')], 1000).then(
    () => null,
    (err: Error) => err,
  )
  await io()
  await t.close()
  assert.instance(
    await pending,
    BaseClosedError,
    'written nowhere, so the caller may write it elsewhere',
  )
  assert.equal(t.base.writeStats, { batches: 0, ops: 0, blocks: 0 })
})

test('a write autobase never ends is measured as it waits, and forgotten once it ends', async () => {
  const clock = fakeClock()
  const s = await open(0, clock)
  // As a base whose update loop is stuck: its append neither lands nor fails.
  const inner = (s.base as unknown as { base: { append: (b: unknown) => Promise<unknown> } }).base
  const append = inner.append.bind(inner)
  let release!: () => void
  const held = new Promise<void>((resolve) => (release = resolve))
  inner.append = async (blocks) => {
    await held
    return append(blocks)
  }
  try {
    assert.is(s.base.writeStalledMs(), 0, 'nothing under way')
    const written = s.base.append([{ type: 'put', download: download() }], 1000)
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
    await clock.tick(20_000)
    assert.is(s.base.writeStalledMs(), 20_000)
    release()
    await written
    assert.is(s.base.writeStalledMs(), 0, 'written')
  } finally {
    release()
    await s.close()
  }
})

test('a closed log refuses an append with a clear message', async () => {
  const s = await open()
  await s.close()
  try {
    await s.base.append([{ type: 'put', download: download() }], 1000)
    assert.unreachable('appended to a closed log')
  } catch (err) {
    assert.match((err as Error).message, /closed/)
  }
})

test('an append waiting to become a writer goes through once it is one, though autobase does not say so', async () => {
  const a = await open()
  const b = await open(0, systemClock, a.base.key)
  const wire = a.store.replicate(true) as Duplex
  wire.pipe(b.store.replicate(false) as Duplex).pipe(wire)
  try {
    // Autobase's 'writable' event compares before and after one run of its update loop: a
    // writer that was one at both ends but not in between (when the append came) hears none.
    const autobase = (b.base as unknown as { base: { emit: (e: string) => boolean } }).base
    const emit = autobase.emit.bind(autobase)
    let away = false
    autobase.emit = (e: string, ...args: unknown[]) =>
      e === 'writable' || e === 'unwritable' || (away && e === 'update')
        ? false
        : (emit as (...x: unknown[]) => boolean)(e, ...args)

    assert.not.ok(b.base.writable)
    const waiting = b.base.append([put('from-b')], 5000)
    await io()
    await a.base.append([{ type: 'add-writer', key: b.base.advert()!.writer }], 1000)
    await waiting
    assert.ok(b.base.writable)
    assert.ok(b.base.table.entries.has('from-b'))

    // A writer, and seen as one, that is not for a moment (as autobase's writer is, re-read
    // inside its update loop) and then is again, with nothing said in between.
    away = true
    const real = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(autobase), 'writable')!
    Object.defineProperty(autobase, 'writable', {
      get: () => !away && (real.get!.call(autobase) as boolean),
    })
    const again = b.base.append([put('again')], 5000)
    await io()
    assert.not.ok(b.base.table.entries.has('again'), 'waits while not a writer')
    away = false
    await again
    assert.ok(b.base.table.entries.has('again'))
    assert.equal([...a.errors, ...b.errors], [])
  } finally {
    wire.destroy()
    await b.close()
    await a.close()
  }
})

test('a reopened base has in its table what it applied and no quorum had signed yet', async () => {
  // A whole cluster stopped at once leaves writes no quorum of indexers signed: each node's next
  // start must still find them in its table, which its supervisor resumes from and its
  // unclean-stop line names its downloads from (before the first update pass, not after).
  let a = await open()
  const b = await open(0, systemClock, a.base.key)
  const key = a.base.key!
  const wire = a.store.replicate(true) as Duplex
  wire.pipe(b.store.replicate(false) as Duplex).pipe(wire)
  const inner = (x: typeof a) =>
    (
      x.base as unknown as {
        base: {
          view: { length: number; signedLength: number }
          system: { indexers: unknown[] }
        }
      }
    ).base
  const view = (x: typeof a) => inner(x).view
  try {
    await a.base.append([put('signed')], 1000)
    await a.base.append([{ type: 'add-writer', key: b.base.advert()!.writer }], 1000)
    await eventually(
      () => inner(a).system.indexers.length === 2 && inner(b).system.indexers.length === 2,
      'b is a writer, and an indexer',
    )
    await b.base.append([put('from-b')], 5000)
    await eventually(() => a.base.table.entries.has('from-b'), "a has b's write")
    wire.destroy()
    // The other indexer gone: nothing more can be signed.
    await a.base.append([put('unsigned')], 5000)
    assert.ok(a.base.table.entries.has('unsigned'))
    assert.ok(view(a).signedLength < view(a).length, 'not signed')
    await a.shut()
    a = await open(0, systemClock, key, a.dir)
    assert.ok(a.base.table.entries.has('signed'), 'what was signed')
    assert.ok(a.base.table.entries.has('unsigned'), 'what was applied but not signed')
  } finally {
    wire.destroy()
    await b.close()
    await a.close()
  }
})

test.run()
