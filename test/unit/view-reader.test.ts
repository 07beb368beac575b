import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EventEmitter } from 'node:events'
import type Hypercore from 'hypercore'
import { ViewReader } from '../../src/store/view-reader.ts'
import { createTable } from '../../src/store/record-table.ts'
import type { RecordOp } from '../../src/store/record.ts'
import { fakeClock } from '../helpers/clock.ts'
import { download } from '../helpers/records.ts'

/**
 * A view whose blocks may be counted in its length before they can be read, as autobase's is
 * right after a restart. A read that waits for such a block never returns, as on a node with
 * no peer to fetch it from.
 */
class View extends EventEmitter {
  blocks: unknown[] = []
  readable = Infinity
  /** Blocks only peers hold (a fast-forwarded view): a waiting read fetches them. */
  remote = new Set<number>()
  get length() {
    return this.blocks.length
  }
  async get(index: number, opts?: { wait?: boolean }): Promise<unknown> {
    if (index < this.readable && !this.remote.has(index)) return this.blocks[index] ?? null
    if (opts?.wait === false) return null
    if (this.remote.has(index)) return this.blocks[index]
    return new Promise(() => {})
  }
  truncate(to: number) {
    this.blocks.length = to
    this.emit('truncate', to)
  }
}

const put = (id: string, progress = 0): RecordOp => ({
  type: 'put',
  download: download({ id, userId: `u-${id}`, progress, version: progress + 1 }),
})

function setup() {
  const clock = fakeClock()
  const view = new View()
  const reads: string[][] = []
  const slow: { index: number; done: boolean }[] = []
  const reader = new ViewReader({
    view: view as unknown as Hypercore,
    table: createTable(),
    clock,
    onRead: ({ touched }) => reads.push([...touched]),
    onSlow: ({ index, done }) => slow.push({ index, done }),
    slowAfterMs: 1000,
  })
  return { clock, view, reader, reads, slow }
}

test('reads every operation of the view into the table, in one change event', async () => {
  const s = setup()
  s.view.blocks.push(put('a'), put('b'), { type: 'add-writer', key: 'c'.repeat(64) }, 'junk')
  await s.reader.catchUp()
  assert.equal(s.reads, [['a', 'b']])
  assert.equal([...s.reader.writers], ['c'.repeat(64)])
  assert.equal([...s.reader.table.entries.keys()], ['a', 'b'])
})

test('a pack is read operation by operation; the reader counts operations, and a truncation does not lower the count', async () => {
  const s = setup()
  const bad = { type: 'put', download: { id: 'x' } }
  s.view.blocks.push(put('a'), { type: 'ops', ops: [put('b'), bad, put('c')] })
  await s.reader.catchUp()
  assert.equal(s.reads, [['a', 'b', 'c']], 'the operation that does not parse is dropped alone')
  assert.is(s.reader.ops, 3)
  assert.is(s.reader.position, 2)

  s.view.truncate(1)
  assert.is(s.reader.position, 1)
  assert.is(s.reader.ops, 3, 'a truncation does not lower the count: its tail comes back')
  s.view.blocks.push({ type: 'ops', ops: [put('d'), put('e')] }, put('f'))
  await s.reader.catchUp()
  assert.is(s.reader.ops, 4, 'what is read after it counts as before')
  const folded = await s.reader.foldRead()
  assert.equal([...folded.entries.keys()], ['a', 'd', 'e', 'f'], 'the view as it is now')
})

test('a block counted but not readable yet is waited for locally, never asked of peers', async () => {
  const s = setup()
  s.view.blocks.push(put('a'), put('b'))
  s.view.readable = 1
  let done = false
  const reading = s.reader.catchUp().then(() => (done = true))
  await s.clock.tick(1500)
  assert.not.ok(done, 'still waiting for block 1')
  assert.ok(s.reader.stalledMs() >= 1000)
  assert.equal(s.slow, [{ index: 1, done: false }], 'told once that it is slow')
  s.view.readable = Infinity
  await s.clock.tick(200)
  await reading
  assert.equal([...s.reader.table.entries.keys()], ['a', 'b'])
  assert.is(s.reader.stalledMs(), 0)
  assert.equal(s.slow.at(-1), { index: 1, done: true })
})

test('a block only peers hold (a fast-forwarded view) is fetched from them', async () => {
  const s = setup()
  s.view.blocks.push(put('a'), put('b'))
  s.view.remote.add(1)
  await s.reader.catchUp()
  assert.equal([...s.reader.table.entries.keys()], ['a', 'b'])
})

test('a fetch that fails at once (no peer, a session moved) is tried again at the reader’s pace, not in a tight loop', async () => {
  const s = setup()
  s.view.blocks.push(put('a'), put('b'))
  s.view.readable = 1
  let calls = 0
  const get = s.view.get.bind(s.view)
  s.view.get = async (index, opts) => {
    calls++
    if (index === 1 && opts?.wait !== false) throw new Error('SESSION_MOVED')
    return get(index, opts)
  }
  let done = false
  const reading = s.reader.catchUp().then(() => (done = true))
  // Real time passes, the reader's clock does not: a loop that does not wait would spin here.
  await new Promise((r) => setTimeout(r, 50))
  assert.ok(calls <= 4, `${calls} reads in 50 ms with the clock standing still`)
  await s.clock.tick(1000)
  assert.ok(calls <= 30, `${calls} reads in a second`) // two a pause: 5, 10, 20 … 200 ms
  assert.not.ok(done)
  s.view.readable = Infinity
  s.view.get = get
  await s.clock.tick(300)
  await reading
  assert.equal([...s.reader.table.entries.keys()], ['a', 'b'])
})

test('opening a log whose view holds a block only peers have, with no peer yet, goes on behind after the stall, and the read ends once the block comes', async () => {
  const s = setup()
  s.view.blocks.push(put('a'), put('b'), put('c'))
  s.view.readable = 1 // block 1 is not here: fast-forwarded, and no peer to fetch it from yet
  const errors: Error[] = []
  let outcome: string | null = null
  const opening = s.reader
    .catchUpUnlessStalled(2000, (err) => errors.push(err))
    .then((o) => (outcome = o))
  await s.clock.tick(1900)
  assert.is(outcome, null, 'a block missing for a moment (a restart after SIGKILL) is waited for')
  await s.clock.tick(300)
  await opening
  assert.is(outcome, 'behind')
  assert.equal([...s.reader.table.entries.keys()], ['a'], 'read as far as it could')
  assert.not.ok(s.reader.caughtUpOnce, 'a compaction waits')
  // Its peers met, the block comes: the read goes on behind to the end.
  s.view.readable = Infinity
  await s.clock.tick(300)
  await s.reader.catchUp()
  assert.equal([...s.reader.table.entries.keys()], ['a', 'b', 'c'])
  assert.is(s.reader.position, 3)
  assert.ok(s.reader.caughtUpOnce)
  assert.equal(errors, [])
  // A view that reads through says so.
  assert.is(await s.reader.catchUpUnlessStalled(2000, () => {}), 'read')
})

test('after a truncation the reader reads the new tail again', async () => {
  const s = setup()
  s.view.blocks.push(put('a'), put('b', 10))
  await s.reader.catchUp()
  s.view.truncate(1)
  s.view.blocks.push(put('b', 20), put('c'))
  await s.reader.catchUp()
  assert.is(s.reader.table.entries.get('b')?.download.progress, 20)
  assert.ok(s.reader.table.entries.has('c'))
})

test('a failed read does not stop the reads after it', async () => {
  const s = setup()
  s.view.blocks.push(put('a'))
  const get = s.view.get.bind(s.view)
  let fail = true
  s.view.get = async (i, o) => {
    if (fail) throw new Error('I/O error')
    return get(i, o)
  }
  await s.reader.catchUp().then(
    () => assert.unreachable('should fail'),
    (err: Error) => assert.is(err.message, 'I/O error'),
  )
  fail = false
  await s.reader.catchUp()
  assert.ok(s.reader.table.entries.has('a'))
})

test('closing ends a read that waits for a block', async () => {
  const s = setup()
  s.view.blocks.push(put('a'))
  s.view.readable = 0
  const reading = s.reader.catchUp()
  await s.clock.tick(50)
  const closing = s.reader.close()
  await s.clock.tick(500)
  await closing
  await reading
  assert.is(s.reader.table.entries.size, 0)
})

test.run()
