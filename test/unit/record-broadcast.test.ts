import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EventEmitter } from 'node:events'
import { RecordBroadcast } from '../../src/cluster/record-broadcast.ts'
import type { RecordOp } from '../../src/store/record.ts'
import type { Scribe } from '../../src/store/log-writer.ts'
import { fakeClock } from '../helpers/clock.ts'
import { MemoryTransport, connect } from '../helpers/memory-transport.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'
import { download } from '../helpers/records.ts'

const KEEP_MS = 10_000
const LOG_A = 'a'.repeat(64)
const LOG_B = 'b'.repeat(64)
const settle = () => new Promise((resolve) => setImmediate(resolve))

/** The record log as the broadcast sees it: what it wrote, merged early, and appended. */
class FakeLog extends EventEmitter<{
  writing: [key: string, op: RecordOp]
  written: [key: string, op: RecordOp]
  unwritten: [op: RecordOp]
  landed: [ops: RecordOp[]]
}> {
  readonly merged: RecordOp[] = []
  readonly appended: RecordOp[] = []
  constructor(public key: string) {
    super()
  }
  /** This node wrote an operation to its log. */
  write(op: RecordOp): void {
    this.start(op)
    this.finish(op)
  }
  /** This node starts writing an operation to its log. */
  start(op: RecordOp): void {
    this.emit('writing', this.key, op)
  }
  /** The write started ends, written or (`ok` false) failed for good. */
  finish(op: RecordOp, ok = true): void {
    if (ok) this.emit('written', this.key, op)
    else this.emit('unwritten', op)
  }
  /** The log brought these operations here. */
  land(ops: RecordOp[]): void {
    this.emit('landed', ops)
  }
  mergeEarly(key: string, ops: RecordOp[]): boolean {
    if (key !== this.key) return false
    this.merged.push(...ops)
    return true
  }
  /** Whether each append asked to be written here (`here`), not handed to a scribe. */
  readonly appendedHere: boolean[] = []
  async append(op: RecordOp, o: { here?: boolean } = {}): Promise<void> {
    this.appended.push(op)
    this.appendedHere.push(o.here === true)
  }
  /** What the broadcast asks a scribe through (record-log.ts calls it as a write starts). */
  scribe: Scribe | null = null
  handTo(scribe: Scribe): void {
    this.scribe = scribe
  }
  /** What peers asked this node to write for them, and whether it can. */
  readonly writtenFor: RecordOp[] = []
  canWriteFor = true
  async writeFor(key: string, ops: RecordOp[]): Promise<boolean> {
    if (!this.canWriteFor || key !== this.key) return false
    this.writtenFor.push(...ops)
    return true
  }
  /** A write starts, handed to the scribe as record-log.ts does: what it asked, or null. */
  hand(op: RecordOp): Promise<boolean> | null {
    this.start(op)
    return this.scribe?.(this.key, op) ?? null
  }
}

function node(
  name: string,
  o: { key?: string; mayAct?: () => boolean; scribe?: () => string | null } = {},
) {
  const clock = fakeClock()
  const transport = new MemoryTransport(name)
  const log = new FakeLog(o.key ?? LOG_A)
  const logger = recordingLogger()
  const broadcast = new RecordBroadcast({
    transport,
    log,
    clock,
    keepMs: KEEP_MS,
    selfId: `${name}-id`,
    mayAct: o.mayAct ?? (() => true),
    scribeFor: o.scribe,
    logger,
  })
  const sent: unknown[] = []
  transport.on('message', (_link, m) => sent.push(m))
  return { name, clock, transport, log, logger, broadcast, sent }
}

/** Connects a to b, b's end of the link naming a as the member it is. */
function link(a: ReturnType<typeof node>, b: ReturnType<typeof node>) {
  const cut = connect(a.transport, b.transport)
  for (const l of b.transport.links) if (l.remoteKey === a.name) l.memberId = `${a.name}-id`
  for (const l of a.transport.links) if (l.remoteKey === b.name) l.memberId = `${b.name}-id`
  return cut
}

const put = (over = {}): RecordOp => ({ type: 'put', download: download(over) })

test('what a node writes in one turn reaches every peer as one message, merged there ahead of the log', async () => {
  const [a, b, c] = [node('a'), node('b'), node('c')]
  link(a, b)
  link(a, c)
  const ops = [put({ userId: 'u1' }), put({ userId: 'u2' }), put({ userId: 'u3' })]
  for (const op of ops) a.log.write(op)
  await settle()
  assert.equal(
    b.sent.map((m) => (m as { type: string }).type),
    ['records', 'records-written'],
    'one message per turn, and how far the writes got',
  )
  assert.equal(b.log.merged, ops)
  assert.equal(c.log.merged, ops)
  assert.is(a.broadcast.stats.sent, 6)
  assert.equal(b.log.appended, [], 'nothing written: the log brings its own copy')
})

test('told resolves once what started writing was sent to the peers, at the end of the turn', async () => {
  const [a, b] = [node('a'), node('b')]
  link(a, b)
  await a.broadcast.told() // nothing waiting: at once
  const op = put({ userId: 'u1' })
  a.log.start(op)
  let sentWhenTold = -1
  const told = a.broadcast.told().then(() => (sentWhenTold = a.broadcast.stats.sent))
  await Promise.resolve()
  assert.is(sentWhenTold, -1, 'not before the turn ends')
  await told
  assert.is(sentWhenTold, 1, 'sent to the peer by then')
  await settle()
  assert.equal(b.log.merged, [op])
})

test('operations written to another log than the peer is on are left to the logs', async () => {
  const [a, b] = [node('a'), node('b', { key: LOG_B })]
  link(a, b)
  a.log.write(put())
  await settle()
  assert.equal(b.log.merged, [])
  b.broadcast.memberGone('a-id')
  assert.equal(b.log.appended, [], 'nor kept for a carry')
})

test('a message that is not a list of valid operations is refused whole and logged', async () => {
  const b = node('b')
  const a = new MemoryTransport('a')
  connect(a, b.transport)
  const [toB] = a.links
  const good = put()
  toB!.send({ type: 'records', log: LOG_A, ops: [good, { type: 'put', download: { id: 7 } }] })
  toB!.send({ type: 'records', log: 'not-a-key', ops: [good] })
  toB!.send({ type: 'records', log: LOG_A, ops: 'lots' })
  await settle()
  assert.equal(b.log.merged, [])
  assert.is(b.logger.events('bad-relay-message').length, 3)
})

test('a peer that dies: what it sent in the last keepMs that the log has not brought is written here', async () => {
  const [a, b] = [node('a'), node('b')]
  link(a, b)
  const old = put({ userId: 'u-old' })
  a.log.write(old)
  await settle()
  await b.clock.tick(KEEP_MS + 1)
  assert.equal(b.log.appended, [], 'confirmed: the log brings it')
  const landed = put({ userId: 'u0' })
  const fresh = [
    put({ userId: 'u1' }),
    { type: 'remove', id: 'x', userId: 'u2', at: 1, expiresAt: 2 } as RecordOp,
  ]
  for (const op of [landed, ...fresh]) a.log.write(op)
  await settle()
  b.log.land([landed])
  b.broadcast.memberGone('a-id')
  assert.equal(b.log.appended, fresh, 'not the one the log brought, nor the one long replicated')
  assert.equal(
    b.logger.events('records-carried').map((e) => e.fields.ops),
    [2],
  )
  b.broadcast.memberGone('a-id')
  assert.is(b.log.appended.length, 2, 'once')
})

test('a peer that dies after the log brought all it sent costs nothing', async () => {
  const [a, b] = [node('a'), node('b')]
  link(a, b)
  const ops = [put({ userId: 'u1' }), put({ userId: 'u2' })]
  for (const op of ops) a.log.write(op)
  await settle()
  b.log.land(ops)
  b.broadcast.memberGone('a-id')
  assert.equal(b.log.appended, [])
  assert.equal(b.logger.events('records-carried'), [])
})

test('a node that may not act for its cluster (cut off) writes nothing for a peer it lost', async () => {
  const a = node('a')
  const b = node('b', { mayAct: () => false })
  link(a, b)
  a.log.write(put())
  await settle()
  assert.is(b.log.merged.length, 1, 'it still shows the record')
  b.broadcast.memberGone('a-id')
  assert.equal(b.log.appended, [])
})

test('an operation goes out as its write starts, before it ends', async () => {
  const [a, b] = [node('a'), node('b')]
  link(a, b)
  const op = put()
  a.log.start(op)
  await settle()
  assert.equal(b.log.merged, [op])
  assert.equal(
    b.sent.map((m) => (m as { type: string }).type),
    ['records'],
    'no confirmation yet',
  )
  a.log.finish(op)
  await settle()
  assert.equal(b.sent.at(-1), {
    type: 'records-written',
    session: (b.sent[0] as any).session,
    written: 1,
    unwritten: [],
  })
  await b.clock.tick(2 * KEEP_MS)
  assert.equal(b.log.appended, [], 'confirmed: the log brings it, nothing written here')
})

test('an operation its sender never confirms (killed and restarted unnoticed) is written by the peer after keepMs', async () => {
  const [a, b] = [node('a'), node('b')]
  link(a, b)
  const lost = put({ userId: 'u-lost' })
  const landed = put({ userId: 'u-landed' })
  a.log.start(lost)
  a.log.start(landed)
  await settle()
  b.log.land([landed])
  await b.clock.tick(KEEP_MS / 2)
  assert.equal(b.log.appended, [], 'not before keepMs')
  await b.clock.tick(KEEP_MS)
  assert.equal(b.log.appended, [lost], 'only the one the log did not bring')
  assert.equal(
    b.logger.events('records-carried').map((e) => e.fields.why),
    ['unconfirmed'],
  )
  await b.clock.tick(2 * KEEP_MS)
  assert.is(b.log.appended.length, 1, 'once')
})

test('an operation whose write failed is written by the peer at once; the ones after it stay confirmed', async () => {
  const [a, b] = [node('a'), node('b')]
  link(a, b)
  const [first, failed, third] = [
    put({ userId: 'u1' }),
    put({ userId: 'u2' }),
    put({ userId: 'u3' }),
  ]
  for (const op of [first, failed, third]) a.log.start(op)
  a.log.finish(third)
  a.log.finish(failed, false)
  await settle()
  assert.equal(b.log.appended, [failed])
  assert.equal(
    b.logger.events('records-carried').map((e) => e.fields.why),
    ['unwritten'],
  )
  a.log.finish(first)
  await settle()
  await b.clock.tick(2 * KEEP_MS)
  assert.equal(b.log.appended, [failed], 'first and third were written by their sender')
})

test('records without their sender’s session and numbers are refused: nothing would confirm them', async () => {
  const b = node('b')
  const a = new MemoryTransport('a')
  connect(a, b.transport)
  for (const l of b.transport.links) l.memberId = 'a-id'
  a.links
    .values()
    .next()
    .value!.send({ type: 'records', log: LOG_A, ops: [put()] })
  await settle()
  assert.equal(b.log.merged, [])
  assert.is(b.logger.events('bad-relay-message').length, 1)
})

test('a write report that is not one is refused and logged', async () => {
  const b = node('b')
  const a = new MemoryTransport('a')
  connect(a, b.transport)
  const [toB] = a.links
  toB!.send({ type: 'records-written', session: 's1', written: -1, unwritten: [] })
  toB!.send({ type: 'records-written', session: 'no spaces', written: 1, unwritten: [] })
  toB!.send({ type: 'records-written', session: 's1', written: 1, unwritten: ['x'] })
  toB!.send({ type: 'records', log: LOG_A, ops: [put()], session: 's1', seq: 1.5 })
  await settle()
  assert.is(b.logger.events('bad-relay-message').length, 4)
  assert.equal(b.log.merged, [])
})

/** The session b's records carry, as a peer on `a` sees it. */
async function sentRecordsSession(b: ReturnType<typeof node>, a: MemoryTransport) {
  let session: unknown
  a.on('message', (_l, m) => (session ??= (m as { session?: unknown }).session))
  b.log.start(put())
  await settle()
  return session
}

/** Three nodes, a and c asking s to write for them (scribe.ts). */
function scribed() {
  const s = node('s')
  const a = node('a', { scribe: () => 's-id' })
  const c = node('c', { scribe: () => 's-id' })
  const cuts = { as: link(a, s), cs: link(c, s), ac: link(a, c) }
  return { s, a, c, cuts }
}

test('with a scribe, a node’s write goes to every peer naming the scribe, which alone writes it and answers', async () => {
  const { s, a, c } = scribed()
  const ops = [put({ userId: 'u1' }), put({ userId: 'u2' })]
  const asked = ops.map((op) => a.log.hand(op))
  await settle()
  await settle()
  assert.equal(s.log.writtenFor, ops, 'the scribe wrote both, in one write')
  assert.equal(c.log.merged, ops, 'the third node shows them')
  assert.equal(c.log.writtenFor, [], 'and writes nothing')
  assert.equal(await Promise.all(asked), [true, true])
  assert.equal(
    (c.sent.find((m) => (m as any).type === 'records') as any).scribe,
    's-id',
    'the message says whom it asks',
  )
  assert.is(a.broadcast.stats.handed, 2)
  assert.is(s.broadcast.stats.scribed, 2)
})

test('a scribe that cannot write (not a writer, moved, failed) says so, and the asking node writes it itself', async () => {
  const { s, a } = scribed()
  s.log.canWriteFor = false
  const asked = a.log.hand(put())
  await settle()
  await settle()
  assert.is(await asked, false)
  const b = node('b', { key: LOG_B })
  const x = node('x', { scribe: () => 'b-id' })
  link(x, b)
  const other = x.log.hand(put())
  await settle()
  assert.is(await other, false, 'a scribe on another log refuses at once')
})

test('no scribe, or one this node has no link to: it writes its own', async () => {
  const alone = node('a', { scribe: () => null })
  assert.is(alone.log.hand(put()), null)
  const far = node('b', { scribe: () => 'z-id' })
  link(far, node('c'))
  assert.is(far.log.hand(put()), null)
})

test('a scribe whose link closes before it answers: the asking node writes it itself', async () => {
  const { s, a, cuts } = scribed()
  s.log.canWriteFor = false // it would say so, but the link goes first
  const asked = a.log.hand(put())
  cuts.as()
  assert.is(await asked, false)
})

/** Two operations a's scribe wrote for it, of which a's log brought only the first. */
async function writtenOneLanded() {
  const { a } = scribed()
  const [landed, lost] = [put({ userId: 'u1' }), put({ userId: 'u2' })]
  const asked = [a.log.hand(landed), a.log.hand(lost)]
  await settle()
  await settle()
  assert.equal(await Promise.all(asked), [true, true])
  a.log.land([landed])
  return { a, lost }
}

test('a scribe that dies after writing: what the asking node’s log never brought is written again', async () => {
  const { a, lost } = await writtenOneLanded()
  a.broadcast.memberGone('s-id')
  assert.equal(a.log.appended, [lost])
  assert.equal(
    a.logger.events('records-rewritten').map((e) => e.fields.ops),
    [1],
  )
})

test('a scribe that never answers: refused after a quarter of keepMs, before peers give the write up', async () => {
  const s = node('s')
  const a = node('a', { scribe: () => 's-id' })
  link(a, s)
  // s hears nothing: a's messages to it are lost, as on a link that stalls.
  s.transport.removeAllListeners('message')
  const asked = a.log.hand(put())
  await settle()
  await a.clock.tick(KEEP_MS / 4 - 1)
  assert.is(await Promise.race([asked, Promise.resolve('pending')]), 'pending')
  await a.clock.tick(1000)
  assert.is(await asked, false)
})

test('what a scribe wrote that this node’s log does not bring within keepMs is written again, here', async () => {
  const { a, lost } = await writtenOneLanded()
  await a.clock.tick(KEEP_MS - 1000)
  assert.equal(a.log.appended, [], 'not before keepMs')
  await a.clock.tick(2000)
  assert.equal(a.log.appended, [lost])
  assert.equal(a.log.appendedHere, [true], 'not handed to the same scribe again')
  await a.clock.tick(2 * KEEP_MS)
  assert.is(a.log.appended.length, 1, 'once')
})

test('a scribe whose link closes after it wrote: what this node’s log never brought is written again', async () => {
  const { a, cuts } = scribed()
  const op = put()
  const asked = a.log.hand(op)
  await settle()
  await settle()
  assert.is(await asked, true)
  cuts.as()
  assert.equal(a.log.appended, [op])
  assert.equal(a.log.appendedHere, [true])
})

test('records naming another member as scribe are shown here, not written', async () => {
  const { s, c } = scribed()
  const t = node('t')
  link(c, t)
  c.log.hand(put())
  await settle()
  assert.is(t.log.merged.length, 1)
  assert.equal(t.log.writtenFor, [])
  assert.is(s.log.writtenFor.length, 1)
})

test('a scribe’s answer that is not one is refused and logged', async () => {
  const b = node('b')
  const a = new MemoryTransport('a')
  connect(a, b.transport)
  for (const l of b.transport.links) l.memberId = 'a-id'
  const [toB] = a.links
  toB!.send({ type: 'records-scribed', session: 'x', seq: 1, count: 1, written: true })
  toB!.send({ type: 'records-scribed', session: 'x', seq: -1, count: 1, written: true })
  // Numbers past the safe integers would never end the count (a node that spins for good).
  const session = (await sentRecordsSession(b, a)) as string
  const seq = Number.MAX_SAFE_INTEGER
  toB!.send({ type: 'records-scribed', session, seq, count: 3, written: true })
  await settle()
  assert.is(b.logger.events('bad-relay-message').length, 3)
})

test.run()
