import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EventEmitter } from 'node:events'
import { ADOPT_HANGS_MS, LogSync, type SyncedLog } from '../../src/cluster/log-sync.ts'
import type { LogAdvert } from '../../src/store/log-advert.ts'
import type { LinkStream } from '../../src/cluster/transport.ts'
import { fakeClock } from '../helpers/clock.ts'
import { MemoryTransport, connect } from '../helpers/memory-transport.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'

const key = (c: string) => c.repeat(64)

/** A log that records what it is asked to do. */
class FakeLog extends EventEmitter<{ advert: [] }> implements SyncedLog {
  readonly adopted: string[] = []
  readonly added: string[] = []
  readonly replicated: LinkStream[] = []
  /** How far the table has read the view; null: as far as the advert says. */
  read: number | null = null
  constructor(public state: LogAdvert) {
    super()
  }
  advert() {
    return this.state
  }
  readLength() {
    return this.read ?? this.state.length
  }
  replicate(stream: LinkStream) {
    this.replicated.push(stream)
  }
  async adopt(k: string, generation: number) {
    this.adopted.push(k)
    // Just moved: it holds nothing of the new log yet.
    this.state = { ...this.state, key: k, writable: false, generation, length: 0, writers: 1 }
    this.emit('advert') // as record-log.ts does once it is on the new log
  }
  async addWriter(w: string) {
    this.added.push(w)
  }
}

function node(name: string, advert: LogAdvert, clock = fakeClock()) {
  const transport = new MemoryTransport(name)
  const log = new FakeLog(advert)
  const logger = recordingLogger()
  const sync = new LogSync({ transport, log, writerRetryMs: 2000, clock, logger })
  sync.start()
  return { transport, log, logger, sync, clock }
}

/** a on a log of three writers, b on one of its own (longer, but one writer: worse). */
function betterAndWorse(clock: ReturnType<typeof fakeClock>) {
  const a = node(
    'a',
    { key: key('1'), writers: 3, length: 10, writer: key('a'), writable: true, generation: 0 },
    clock,
  )
  const b = node(
    'b',
    { key: key('2'), writers: 1, length: 50, writer: key('b'), writable: true, generation: 0 },
    clock,
  )
  return { a, b }
}

const settle = () => new Promise((resolve) => setImmediate(resolve))

test('a node on a worse log adopts the better one it hears of, and then admits nothing', async () => {
  const clock = fakeClock()
  const { a, b } = betterAndWorse(clock)
  connect(a.transport, b.transport)
  await clock.tick(500)
  assert.equal(b.log.adopted, [key('1')], 'more writers beats a longer log')
  assert.equal(a.log.added, [key('b')], 'once on it, b waits to be a writer and a admits it')
  assert.equal(a.log.adopted, [])
  assert.is(a.log.replicated.length, 1, 'the log replicates over the new link')
})

test('a writer admits a peer that waits on the same log, at most once per retry interval', async () => {
  const clock = fakeClock()
  const a = node(
    'a',
    { key: key('1'), writers: 2, length: 5, writer: key('a'), writable: true, generation: 0 },
    clock,
  )
  const b = node(
    'b',
    { key: key('1'), writers: 2, length: 5, writer: key('b'), writable: false, generation: 0 },
    clock,
  )
  connect(a.transport, b.transport)
  await clock.tick(1900)
  assert.equal(a.log.added, [key('b')])
  await clock.tick(200)
  assert.equal(a.log.added, [key('b'), key('b')], 'retried after 2 s while it still waits')
  b.log.state = { ...b.log.state, writable: true, generation: 0 }
  await clock.tick(5000)
  assert.is(a.log.added.length, 2, 'not once it is a writer')
  assert.equal(b.log.added, [], 'a node that is not writable admits nobody')
})

test('a node that just moved judges its log by what peers said of it, and does not move back', async () => {
  const clock = fakeClock()
  const advert = (k: string, w: string, length: number): LogAdvert => ({
    key: key(k),
    writers: 1,
    length,
    writer: key(w),
    writable: true,
    generation: 0,
  })
  const a = node('a', advert('1', 'a', 10), clock)
  const b = node('b', advert('2', 'b', 3), clock)
  const c = node('c', advert('3', 'c', 5), clock)
  connect(a.transport, b.transport)
  await clock.tick(10)
  assert.equal(b.log.adopted, [key('1')])
  // c's log is longer than what b holds of log 1 so far, not than log 1.
  connect(c.transport, b.transport)
  await clock.tick(10)
  assert.equal(b.log.adopted, [key('1')], 'it stays on the log it moved to')
})

test('what a node remembers of logs and writers stays bounded, however many compactions it follows', async () => {
  const clock = fakeClock()
  const { a, b } = betterAndWorse(clock)
  connect(a.transport, b.transport)
  const hex = (n: number, pad: string) => n.toString(16).padStart(64, pad)
  for (let g = 1; g <= 100; g++) {
    // a compacts to a new log; b follows it, and waits there to be admitted under a new writer.
    a.log.state = { ...a.log.state, key: hex(g, '0'), generation: g, length: 1, writers: 1 }
    a.log.emit('advert')
    await clock.tick(10)
    b.log.state = { ...b.log.state, writer: hex(g, 'b') }
    b.log.emit('advert')
    await clock.tick(2500)
  }
  assert.is(b.log.adopted.length, 101, 'b followed every log')
  assert.ok(a.log.added.includes(hex(100, 'b')), 'a admitted the last writer of b')
  const held = (s: LogSync) =>
    s as unknown as { known: Map<string, unknown>; writerAdded: Map<string, number> }
  assert.ok(held(b.sync).known.size <= 33, `b remembers ${held(b.sync).known.size} logs`)
  assert.ok(held(a.sync).known.size <= 33, `a remembers ${held(a.sync).known.size} logs`)
  const writers = held(a.sync).writerAdded.size
  assert.ok(writers <= 33, `a remembers ${writers} writers`)
})

test('an advert that cannot be parsed is logged and ignored', async () => {
  const a = node('a', {
    key: key('1'),
    writers: 1,
    length: 0,
    writer: key('a'),
    writable: true,
    generation: 0,
  })
  const b = node('b', {
    key: key('2'),
    writers: 1,
    length: 0,
    writer: key('b'),
    writable: true,
    generation: 0,
  })
  connect(a.transport, b.transport)
  await settle()
  ;[...a.transport.links][0]!.send({ type: 'log', advert: { key: 'not-hex' } })
  await settle()
  assert.is(b.logger.events('bad-message').length, 1)
})

/** a and b on one log, a holding `aLength` blocks and b `bLength`; a knows b as 'member-b'. */
async function oneLog(clock: ReturnType<typeof fakeClock>, aLength: number, bLength: number) {
  const advert = (c: string, length: number): LogAdvert => ({
    key: key('1'),
    writers: 2,
    length,
    writer: key(c),
    writable: true,
    generation: 0,
  })
  const a = node('a', advert('a', aLength), clock)
  const b = node('b', advert('b', bLength), clock)
  connect(a.transport, b.transport)
  for (const link of a.transport.links) link.memberId = 'member-b'
  await clock.tick(1000)
  return { a, b, advert }
}

test('caught up since a moment: the same log, as long as each member said in an advert heard since', async () => {
  const clock = fakeClock()
  const { a, b, advert } = await oneLog(clock, 10, 20)
  const since = clock.now() + 1
  assert.not.ok(a.sync.caughtUpSince(['member-b'], since), 'no advert heard since then yet')
  await clock.tick(1000)
  assert.not.ok(a.sync.caughtUpSince(['member-b'], since), 'b said 20 operations; a holds 10')
  a.log.state = advert('a', 20)
  a.log.read = 15
  assert.not.ok(
    a.sync.caughtUpSince(['member-b'], since),
    'its view is as long, but its table has not read it all yet',
  )
  a.log.read = null
  assert.ok(a.sync.caughtUpSince(['member-b'], since))
  assert.not.ok(a.sync.caughtUpSince(['member-b', 'member-c'], since), 'c never said anything')
  a.log.state = { ...advert('a', 50), key: key('9') }
  assert.not.ok(a.sync.caughtUpSince(['member-b'], since), 'another log is not caught up')
  a.sync.close()
  b.sync.close()
})

test('synced with a member: the same log, and the table read as far as its first advert said', async () => {
  const clock = fakeClock()
  // a has just restarted: its log holds 10 blocks, b's held 30 when a first heard it.
  const { a, b, advert } = await oneLog(clock, 10, 30)
  assert.not.ok(a.sync.syncedWith(['member-b']), 'a holds 10 of the 30')
  // Autobase has applied b's blocks (or fast-forwarded past them); the table has not read them.
  a.log.state = advert('a', 30)
  a.log.read = 12
  assert.not.ok(a.sync.syncedWith(['member-b']), 'applied is not read: the table is still old')
  a.log.read = 30
  assert.ok(a.sync.syncedWith(['member-b']))
  assert.not.ok(a.sync.syncedWith(['member-b', 'member-c']), 'c was never heard')
  a.sync.close()
  b.sync.close()
})

test('the writers of a log are the members whose latest advert says so, however old it is', async () => {
  const clock = fakeClock()
  const advert = (c: string, over: Partial<LogAdvert> = {}): LogAdvert => ({
    key: key('1'),
    writers: 3,
    length: 5,
    writer: key(c),
    writable: true,
    generation: 0,
    ...over,
  })
  const a = node('a', advert('a'), clock)
  const b = node('b', advert('b'), clock)
  const c = node('c', advert('c', { writable: false }), clock)
  connect(a.transport, b.transport)
  connect(a.transport, c.transport)
  for (const link of a.transport.links) link.memberId = `member-${link.remoteKey}`
  await clock.tick(1000)
  assert.equal(a.sync.writersOf(key('1')), ['member-b'], 'c is not a writer yet')
  assert.equal(a.sync.writersOf(key('2')), [])
  b.sync.close() // b says nothing more: its last advert still counts
  c.log.state = advert('c')
  await clock.tick(60_000)
  assert.equal(a.sync.writersOf(key('1')).sort(), ['member-b', 'member-c'])
  c.log.state = advert('c', { key: key('2') })
  await clock.tick(1000)
  assert.equal(a.sync.writersOf(key('1')), ['member-b'], 'c moved to another log')
  a.sync.close()
  c.sync.close()
})

test('a move to the better log that keeps failing is reported while it is tried, and cleared once it succeeds', async () => {
  const clock = fakeClock()
  const { a, b } = betterAndWorse(clock)
  let failing = true
  const adopt = b.log.adopt.bind(b.log)
  b.log.adopt = async (k: string, generation: number) => {
    if (failing) throw new Error('STORAGE_EMPTY: No Hypercore is stored here')
    return adopt(k, generation)
  }
  assert.is(b.sync.adoptProblem(), null)
  connect(a.transport, b.transport)
  await clock.tick(500)
  assert.equal(b.sync.adoptProblem(), {
    key: key('1'),
    message: 'STORAGE_EMPTY: No Hypercore is stored here',
    forMs: 500, // failed as the link opened
  })
  await clock.tick(6000) // a's adverts bring it back every second
  assert.ok(b.sync.adoptProblem()!.forMs >= 5000, 'counted from the first failure')
  assert.ok(b.logger.events('log-adopt-failed').length >= 5)
  failing = false
  await clock.tick(1000)
  assert.equal(b.log.adopted, [key('1')])
  assert.is(b.sync.adoptProblem(), null)
})

test('a failure no longer tried (no better log heard of since) is not reported', async () => {
  const clock = fakeClock()
  const { a, b } = betterAndWorse(clock)
  b.log.adopt = async () => {
    throw new Error('nope')
  }
  connect(a.transport, b.transport)
  await clock.tick(500)
  assert.ok(b.sync.adoptProblem())
  await a.sync.close()
  await clock.tick(5000)
  assert.is(b.sync.adoptProblem(), null)
})

test('a move to the better log that never ends is reported once it has taken too long, and told once', async () => {
  const clock = fakeClock()
  const { a, b } = betterAndWorse(clock)
  let finish = () => {}
  const adopt = b.log.adopt.bind(b.log)
  b.log.adopt = (k: string, generation: number) =>
    new Promise<void>((resolve) => (finish = () => void adopt(k, generation).then(resolve)))
  connect(a.transport, b.transport)
  await clock.tick(ADOPT_HANGS_MS - 1000)
  assert.is(b.sync.adoptProblem(), null, 'a slow move is not yet a stuck one')
  await clock.tick(2000)
  const problem = b.sync.adoptProblem()
  assert.is(problem?.key, key('1'))
  assert.is(problem!.message, 'the move under way has not finished (waiting for an earlier one)')
  assert.is(problem!.forMs, ADOPT_HANGS_MS + 1000)
  b.sync.adoptProblem()
  assert.equal(
    b.logger.events('log-adopt-slow').map((e) => e.fields),
    [{ key: key('1').slice(0, 12), ms: ADOPT_HANGS_MS + 1000, step: 'waiting for an earlier one' }],
    'told once, with the step it is at',
  )
  finish()
  await settle()
  assert.is(b.sync.adoptProblem(), null, 'cleared once the move ends')
  assert.equal(b.log.adopted, [key('1')])
})

test.run()
