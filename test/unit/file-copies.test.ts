import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { coverRanges, FileCopies, type BlockRange } from '../../src/store/file-copies.ts'
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

/** A core that records its downloads; each finishes when the test says. */
function fakeCore() {
  const downloads: { range: BlockRange; destroyed: boolean; finish(): void }[] = []
  return {
    downloads,
    download(range: BlockRange) {
      let finish = () => {}
      const done = new Promise<void>((resolve) => (finish = resolve))
      const d = { range, destroyed: false, finish }
      downloads.push(d)
      return {
        done: () => done,
        destroy: () => void (d.destroyed = true),
      }
    },
  }
}

const turn = () => new Promise((r) => setImmediate(r))

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
  await turn()
  await turn()
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
  await turn()
  await turn()
  assert.is(cores.a.downloads.length, 3)
  copies.close()
})

test('a copy not done within giveUpMs is dropped; one done in time is left alone', async () => {
  const clock = fakeClock()
  const core = fakeCore()
  const copies = new FileCopies({ core: async () => core, clock, giveUpMs: 60_000 })
  copies.add('a', { start: 0, end: 1 })
  copies.add('a', { start: 2, end: 3 })
  await turn()
  await turn()
  const [stuck, quick] = core.downloads
  quick!.finish()
  await clock.tick(59_999)
  assert.is(stuck!.destroyed, false)
  await clock.tick(1)
  assert.is(stuck!.destroyed, true, 'given up after a minute')
  assert.is(quick!.destroyed, false, 'a finished copy is not touched')
  copies.close()
})

test('after close nothing more is copied', async () => {
  const core = fakeCore()
  const copies = new FileCopies({ core: async () => core, clock: fakeClock(), giveUpMs: 1000 })
  copies.add('a', { start: 0, end: 1 })
  copies.close()
  await turn()
  await turn()
  copies.add('a', { start: 1, end: 2 })
  await turn()
  assert.is(core.downloads.length, 0)
})

test.run()
