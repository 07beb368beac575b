import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { rejects } from 'node:assert/strict'
import { InvalidRecordError } from '../../src/store/repository.ts'
import { fakeClock } from '../helpers/clock.ts'
import { memoryRepository } from '../helpers/fakes.ts'
import { MemoryLog } from '../helpers/memory-log.ts'
import { LogRepository } from '../../src/store/repository.ts'
import { download } from '../helpers/records.ts'

function setup() {
  const clock = fakeClock()
  const live = (over = {}) =>
    download({ createdAt: clock.now(), expiresAt: clock.now() + 30_000, ...over })
  return { clock, live, ...memoryRepository(clock) }
}

test('a second download of a user is not written while the first lives; the first is returned', async () => {
  const s = setup()
  const first = s.live({ id: 'one', userId: 'u1' })
  assert.equal(await s.repo.insert(first), { inserted: true })
  const again = await s.repo.insert(s.live({ id: 'two', userId: 'u1' }))
  assert.equal(again, { inserted: false, existing: first })
  assert.is(s.log.ops.length, 1)
})

test('inserts of different users go to the log together; a second of the same user waits for the first', async () => {
  const s = setup()
  s.log.hold()
  const handed: string[] = []
  const append = s.log.append.bind(s.log)
  s.log.append = (op) => {
    if (op.type === 'put') handed.push(op.download.id)
    return append(op)
  }
  const a = s.repo.insert(s.live({ id: 'a', userId: 'u1' }))
  const b = s.repo.insert(s.live({ id: 'b', userId: 'u2' }))
  const again = s.repo.insert(s.live({ id: 'a2', userId: 'u1' }))
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(handed, ['a', 'b'], 'u2 did not wait for u1; u1 waits for its own first')
  s.log.release()
  assert.equal(await a, { inserted: true })
  assert.equal(await b, { inserted: true })
  assert.equal(await again, { inserted: false, existing: s.repo.get('a') })
  assert.equal(handed, ['a', 'b'])
})

test('a user’s request and dismissal wait only for the merge; a worker’s update for the write', async () => {
  const s = setup()
  const asked: string[] = []
  const append = s.log.append.bind(s.log)
  s.log.append = (op, o) => {
    asked.push(`${op.type} ${o?.until}`)
    return append(op)
  }
  const d = s.live({ id: 'one', userId: 'u1' })
  await s.repo.insert(d)
  await s.repo.update({ ...d, version: 2, progress: 10 })
  await s.repo.remove(d)
  assert.equal(asked, ['put merged', 'put written', 'remove merged'])
})

test('a record every node would drop is refused loudly instead of lost silently', async () => {
  const s = setup()
  const d = s.live({ id: 'one' })
  await s.repo.insert(d)
  await rejects(
    () => s.repo.update({ ...d, version: 2, progress: 250 }),
    (err: unknown) => err instanceof InvalidRecordError && /download one/.test(err.message),
  )
  assert.is(s.log.ops.length, 1, 'nothing was appended')
  assert.is(s.repo.get('one')!.progress, 0)
})

test('a dismissal hides the record at once and outlives it by the tombstone time', async () => {
  const s = setup()
  const d = s.live({ id: 'one', userId: 'u1' })
  await s.repo.insert(d)
  await s.repo.remove(d)
  assert.is(s.repo.forUser('u1'), null)
  const op = s.log.ops.at(-1)!
  assert.is(op.type, 'remove')
  if (op.type === 'remove') assert.is(op.expiresAt, d.expiresAt + 60_000)
})

test('records are stamped and judged in the time it is given; it purges only once that time may be trusted', async () => {
  const clock = fakeClock()
  const log = new MemoryLog()
  let trusted = false
  const repo = new LogRepository({
    log,
    time: clock,
    tombstoneMs: 1000,
    mayPurge: () => trusted,
  })
  assert.is(repo.now(), clock.now())
  const d = download({
    id: 'one',
    state: 'ready',
    createdAt: clock.now(),
    expiresAt: clock.now() + 5000,
  })
  await repo.insert(d)
  await clock.tick(10_000)
  assert.is(repo.get('one'), null, 'expired: no longer shown')
  assert.equal(repo.purge(), [], 'but not purged on an unchecked clock')
  assert.ok(log.table.entries.has('one'))
  trusted = true
  assert.equal(
    repo.purge().map((x) => x.download.id),
    ['one'],
  )
})

test('nothing is purged while the log is still being read (a node catching up)', async () => {
  const clock = fakeClock()
  const log = Object.assign(new MemoryLog(), { caughtUp: () => read })
  let read = false
  const repo = new LogRepository({ log, time: clock, tombstoneMs: 1000 })
  await repo.insert(download({ id: 'one', createdAt: clock.now(), expiresAt: clock.now() + 5000 }))
  await clock.tick(10_000)
  assert.equal(repo.purge(), [], 'its outcome and dismissal may be further on')
  read = true
  assert.equal(
    repo.purge().map((x) => x.download.id),
    ['one'],
  )
})

test.run()
