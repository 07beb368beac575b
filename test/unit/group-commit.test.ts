import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { GroupCommit } from '../../src/store/group-commit.ts'
import { fakeClock } from '../helpers/clock.ts'

const turn = () => new Promise((r) => setImmediate(r))

function setup(windowMs: number) {
  const clock = fakeClock()
  const batches: number[][] = []
  let fail: Error | null = null
  const commit = new GroupCommit<number>({
    windowMs,
    clock,
    write: async (items) => {
      if (fail) throw fail
      batches.push([...items])
    },
  })
  return { clock, batches, commit, failWith: (err: Error | null) => (fail = err) }
}

test('with no window, what is added in one turn is one batch; the next turn opens another', async () => {
  const s = setup(0)
  const a = s.commit.add([1])
  const b = s.commit.add([2, 3])
  await Promise.all([a, b])
  assert.equal(s.batches, [[1, 2, 3]])
  await s.commit.add([4])
  assert.equal(s.batches, [[1, 2, 3], [4]])
})

test('with a window, adds gather until it ends, across turns', async () => {
  const s = setup(50)
  const done: number[] = []
  void s.commit.add([1]).then(() => done.push(1))
  await turn()
  void s.commit.add([2]).then(() => done.push(2))
  await s.clock.tick(49)
  assert.equal(s.batches, [], 'held for the window')
  await s.clock.tick(1)
  await turn()
  assert.equal(s.batches, [[1, 2]])
  assert.equal(done, [1, 2])
})

test('a failed write fails every caller of its batch, and only those', async () => {
  const s = setup(0)
  s.failWith(new Error('disk on fire'))
  const a = s.commit.add([1]).then(
    () => 'ok',
    (e: Error) => e.message,
  )
  const b = s.commit.add([2]).then(
    () => 'ok',
    (e: Error) => e.message,
  )
  assert.equal(await Promise.all([a, b]), ['disk on fire', 'disk on fire'])
  s.failWith(null)
  await s.commit.add([3])
  assert.equal(s.batches, [[3]])
})

test('flush hands a gathering batch over at once and waits for it; cancel writes it nowhere', async () => {
  const s = setup(1000)
  const a = s.commit.add([1])
  await s.commit.flush()
  assert.equal(s.batches, [[1]], 'written without the window')
  await a
  const b = s.commit.add([2]).then(
    () => 'ok',
    (e: Error) => e.message,
  )
  s.commit.cancel(new Error('closed'))
  assert.is(await b, 'closed')
  // Past both windows: neither the flushed batch is written again nor the cancelled one.
  await s.clock.tick(1000)
  assert.equal(s.batches, [[1]])
})

test.run()
