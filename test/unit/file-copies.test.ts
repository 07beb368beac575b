import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { coverRanges, FileCopies, without, type BlockRange } from '../../src/store/file-copies.ts'
import { fakeClock } from '../helpers/clock.ts'

test('adjacent and overlapping ranges join, in any order', () => {
  assert.equal(
    coverRanges([
      { start: 4, end: 6 },
      { start: 0, end: 2 },
      { start: 2, end: 4 },
      { start: 5, end: 7 },
    ]),
    [{ start: 0, end: 7 }],
  )
})

test('a gap is never bridged: its blocks may be gone for good', () => {
  assert.equal(
    coverRanges([
      { start: 0, end: 1 },
      { start: 2, end: 3 },
      { start: 3, end: 5 },
    ]),
    [
      { start: 0, end: 1 },
      { start: 2, end: 5 },
    ],
  )
})

test('empty ranges are dropped and the input is not changed', () => {
  const input = [
    { start: 3, end: 3 },
    { start: 0, end: 2 },
    { start: 1, end: 2 },
  ]
  const copy = structuredClone(input)
  assert.equal(coverRanges(input), [{ start: 0, end: 2 }])
  assert.equal(input, copy)
  assert.equal(coverRanges([]), [])
})

/** A core that records its downloads; each finishes when the test says, holding `held`. */
function fakeCore() {
  const downloads: { range: BlockRange; destroyed: boolean; finish(): void }[] = []
  const held = new Set<number>()
  return {
    downloads,
    held,
    has: async (index: number) => held.has(index),
    download(range: BlockRange) {
      let finish = () => {}
      let cancel = (_: Error) => {}
      const done = new Promise<void>((resolve, reject) => ((finish = resolve), (cancel = reject)))
      done.catch(() => {})
      const d = { range, destroyed: false, finish }
      downloads.push(d)
      return {
        done: () => done,
        // As hypercore's: a destroyed download's done() rejects.
        destroy: () => {
          d.destroyed = true
          cancel(new Error('REQUEST_CANCELLED'))
        },
      }
    },
  }
}

const turn = () => new Promise((r) => setImmediate(r))
/** Two turns: the one the copies are gathered in, and the one the core is opened in. */
const settle = async () => {
  await turn()
  await turn()
}

/** Copies over one fake core, on a fake clock. */
function oneCore(giveUpMs = 60_000) {
  const clock = fakeClock()
  const core = fakeCore()
  const copies = new FileCopies({ core: async () => core, clock, giveUpMs })
  return { clock, core, copies }
}

test('files asked for in one turn are copied as one download per run of blocks, per core', async () => {
  const clock = fakeClock()
  const cores = { a: fakeCore(), b: fakeCore() }
  const copies = new FileCopies({
    core: async (k) => cores[k as 'a' | 'b'],
    clock,
    giveUpMs: 60_000,
  })
  copies.add('a', { start: 0, end: 1 })
  copies.add('b', { start: 7, end: 8 })
  copies.add('a', { start: 1, end: 3 })
  copies.add('a', { start: 5, end: 6 })
  await settle()
  assert.equal(
    cores.a.downloads.map((d) => d.range),
    [
      { start: 0, end: 3 },
      { start: 5, end: 6 },
    ],
  )
  assert.equal(
    cores.b.downloads.map((d) => d.range),
    [{ start: 7, end: 8 }],
  )
  // The next turn's files are a download of their own.
  copies.add('a', { start: 3, end: 4 })
  await settle()
  assert.is(cores.a.downloads.length, 3)
  copies.close()
})

test('a copy that gets no block for giveUpMs is dropped; one done, or still receiving, is not', async () => {
  const { clock, core, copies } = oneCore()
  copies.add('a', { start: 0, end: 1 })
  copies.add('a', { start: 2, end: 3 })
  copies.add('a', { start: 10, end: 14 })
  await settle()
  const [stuck, quick, slow] = core.downloads
  quick!.finish()
  core.held.add(10) // the slow one has a block in its first minute
  await clock.tick(59_999)
  assert.is(stuck!.destroyed, false)
  await clock.tick(1)
  assert.is(stuck!.destroyed, true, 'nothing came in a minute: given up')
  assert.is(quick!.destroyed, false, 'a finished copy is not touched')
  assert.is(slow!.destroyed, false, 'a copy still receiving blocks is left to finish')
  core.held.add(11)
  await clock.tick(60_000)
  assert.is(slow!.destroyed, false, 'another block in the next minute')
  await clock.tick(60_000)
  assert.is(slow!.destroyed, true, 'then a minute with none')
  copies.close()
})

test('after close nothing more is copied, and no copy under way is given up by this', async () => {
  const { clock, core, copies } = oneCore(1000)
  copies.add('a', { start: 0, end: 1 })
  await settle()
  assert.is(core.downloads.length, 1)
  copies.add('a', { start: 1, end: 2 })
  copies.close()
  await settle()
  copies.add('a', { start: 2, end: 3 })
  await turn()
  assert.is(core.downloads.length, 1, 'nothing asked for at or after close')
  await clock.tick(5000)
  assert.is(core.downloads[0]!.destroyed, false, 'its timer went with close')
})

test('without: the parts of a range outside another', () => {
  const r = { start: 2, end: 8 }
  assert.equal(without(r, { start: 8, end: 9 }), [r], 'apart: the range itself')
  assert.equal(without(r, { start: 0, end: 2 }), [r])
  assert.equal(without(r, { start: 0, end: 9 }), [], 'covered')
  assert.equal(without(r, { start: 0, end: 4 }), [{ start: 4, end: 8 }])
  assert.equal(without(r, { start: 5, end: 9 }), [{ start: 2, end: 5 }])
  assert.equal(without(r, { start: 4, end: 6 }), [
    { start: 2, end: 4 },
    { start: 6, end: 8 },
  ])
})

test('a purged file is never copied back: the copy that covers it is cancelled and the rest asked for anew', async () => {
  const { clock, core, copies } = oneCore()
  copies.add('a', { start: 0, end: 3 })
  await settle()
  const [first] = core.downloads
  copies.forget('a', { start: 5, end: 6 })
  assert.is(first!.destroyed, false, 'a file it does not cover changes nothing')
  copies.forget('a', { start: 1, end: 2 })
  assert.is(first!.destroyed, true)
  await settle()
  assert.equal(
    core.downloads.slice(1).map((d) => d.range),
    [
      { start: 0, end: 1 },
      { start: 2, end: 3 },
    ],
  )
  // Asked for and purged in the same turn: never asked of the core.
  copies.add('a', { start: 9, end: 10 })
  copies.forget('a', { start: 9, end: 10 })
  await settle()
  assert.is(core.downloads.length, 3)
  copies.close()
})

test('a file purged while its core is being opened is not copied once it is', async () => {
  const core = fakeCore()
  let open = (_: typeof core) => {}
  const opened = new Promise<typeof core>((resolve) => (open = resolve))
  const copies = new FileCopies({ core: () => opened, clock: fakeClock(), giveUpMs: 60_000 })
  copies.add('a', { start: 0, end: 2 })
  await turn()
  copies.forget('a', { start: 0, end: 1 })
  open(core)
  await settle()
  assert.equal(
    core.downloads.map((d) => d.range),
    [{ start: 1, end: 2 }],
  )
  copies.close()
})

test.run()
