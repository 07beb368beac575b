import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Cluster } from '../../src/cluster/cluster.ts'
import { twinYields } from '../../src/cluster/twin.ts'
import type { Clock } from '../../src/clock.ts'
import { fakeClock, type FakeClock } from '../helpers/clock.ts'
import { MemoryTransport, connect } from '../helpers/memory-transport.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'

const TIMINGS = { heartbeatMs: 100, suspectAfterMs: 500, suspicionMs: 300 }

function member(name: string, clock: Clock, job?: string, full?: () => boolean) {
  const transport = new MemoryTransport(name)
  const log = recordingLogger()
  const cluster = new Cluster({
    self: { id: `id-${name}`, name, url: `http://127.0.0.1:1/${name}` },
    transport,
    timings: TIMINGS,
    clock,
    log,
    ...(job && { job }),
    ...(full && { full }),
  })
  return { name, transport, log, cluster }
}

type Node = ReturnType<typeof member>

function statusOf(viewer: Node, name: string): string | undefined {
  return viewer.cluster.members().find((m) => m.name === name)?.status
}

/** Three members, fully linked, heartbeating on one fake clock. */
async function three(clock: FakeClock): Promise<Node[]> {
  const nodes = ['n1', 'n2', 'n3'].map((n) => member(n, clock))
  for (let i = 0; i < nodes.length; i++)
    for (let j = i + 1; j < nodes.length; j++) connect(nodes[i]!.transport, nodes[j]!.transport)
  for (const n of nodes) n.cluster.start()
  await clock.tick(200)
  return nodes
}

test('three members converge on one membership within a heartbeat or two', async () => {
  const clock = fakeClock()
  const nodes = await three(clock)
  for (const viewer of nodes)
    for (const n of nodes)
      assert.is(statusOf(viewer, n.name), 'alive', `${viewer.name} on ${n.name}`)
  for (const n of nodes) n.cluster.close()
})

test('a member gone silent is suspected, then dead everywhere within the suspicion window', async () => {
  const clock = fakeClock()
  const [n1, n2, n3] = await three(clock)
  n3!.transport.muted = true // SIGKILL: its links stay up, nothing more comes
  const killedAt = clock.now()
  let suspectAt = 0
  let deadAt = 0
  while (!deadAt && clock.now() - killedAt < 5000) {
    await clock.tick(TIMINGS.heartbeatMs)
    if (!suspectAt && statusOf(n1!, 'n3') === 'suspect') suspectAt = clock.now() - killedAt
    if ([n1, n2].every((n) => statusOf(n!, 'n3') === 'dead')) deadAt = clock.now() - killedAt
  }
  assert.ok(suspectAt >= TIMINGS.suspectAfterMs, `suspected after ${suspectAt} ms`)
  const window = TIMINGS.suspectAfterMs + TIMINGS.suspicionMs
  assert.ok(
    deadAt >= window && deadAt <= window + 2 * TIMINGS.heartbeatMs,
    `dead after ${deadAt} ms`,
  )
  assert.ok(n1!.log.events('member-dead').some((e) => e.fields.member === 'n3'))
  assert.is(statusOf(n1!, 'n2'), 'alive', 'nobody else is blamed')
  // Its links are closed at once, not when the connection's timeout notices.
  for (const n of [n1!, n2!]) {
    assert.equal([...n.transport.links].map((l) => l.remoteKey).sort(), [n === n1 ? 'n2' : 'n1'])
    assert.equal(
      n.log.events('link-dropped').map((e) => e.fields.member),
      ['n3'],
    )
  }
})

test('beats of a dead member replayed (or overtaken) keep nobody alive: it is declared dead on time', async () => {
  const clock = fakeClock()
  const [n1, , n3] = await three(clock)
  const heard: unknown[] = []
  n1!.transport.on('message', (_link, m) => {
    if ((m as { self?: { name?: string } }).self?.name === 'n3') heard.push(m)
  })
  await clock.tick(3 * TIMINGS.heartbeatMs)
  const fromN3 = [...n1!.transport.links].find((l) => l.remoteKey === 'n3')!
  n3!.transport.muted = true
  const killedAt = clock.now()
  const old = heard.slice()
  while (statusOf(n1!, 'n3') !== 'dead' && clock.now() - killedAt < 5000) {
    // Someone on the path sends n3's beats again, as a datagram would arrive late.
    for (const beat of old) n1!.transport.emit('message', fromN3, JSON.parse(JSON.stringify(beat)))
    await clock.tick(TIMINGS.heartbeatMs)
  }
  const window = TIMINGS.suspectAfterMs + TIMINGS.suspicionMs
  assert.ok(clock.now() - killedAt <= window + 2 * TIMINGS.heartbeatMs, 'dead on time')
  assert.ok(old.length >= 3, 'beats were replayed')
})

test('a member that was only slow refutes its suspicion and stays a member', async () => {
  const clock = fakeClock()
  const [n1, , n3] = await three(clock)
  n3!.transport.muted = true
  while (statusOf(n1!, 'n3') !== 'suspect') await clock.tick(TIMINGS.heartbeatMs)
  n3!.transport.muted = false
  await clock.tick(3 * TIMINGS.heartbeatMs)
  assert.is(statusOf(n1!, 'n3'), 'alive')
  assert.ok(n3!.log.events('refuted').length > 0, 'n3 raised its incarnation')
  await clock.tick(2000)
  assert.is(statusOf(n1!, 'n3'), 'alive', 'and is not declared dead later')
})

test('a member that closes is seen as left at once', async () => {
  const clock = fakeClock()
  const [n1, n2, n3] = await three(clock)
  const closing = n2!.cluster.close()
  await clock.tick(50)
  await closing
  assert.is(statusOf(n1!, 'n2'), 'left')
  assert.is(statusOf(n3!, 'n2'), 'left')
  await clock.tick(2000)
  assert.is(statusOf(n1!, 'n2'), 'left', 'not revived by stale gossip')
})

test('a node whose own loop stood still past the death window says so, and blames nobody for it', async () => {
  const clock = fakeClock()
  let jump = 0
  const skewed: Clock = { ...clock, now: () => clock.now() + jump }
  const nodes = [member('n1', skewed), member('n2', clock)]
  connect(nodes[0]!.transport, nodes[1]!.transport)
  for (const n of nodes) n.cluster.start()
  await clock.tick(300)
  const stalls: number[] = []
  nodes[0]!.cluster.on('stalled', (ms) => stalls.push(ms))
  jump = 2000 // the next heartbeat of n1 comes 2 s late
  await clock.tick(TIMINGS.heartbeatMs)
  assert.equal(stalls, [2000])
  assert.is(statusOf(nodes[0]!, 'n2'), 'alive', 'n2’s silence during the stall proves nothing')
})

/** The same fake clock, read `offsetMs` off: a machine whose clock is wrong. */
function skewed(clock: FakeClock, offsetMs: number): Clock {
  return { ...clock, now: () => clock.now() + offsetMs }
}

test("heartbeats carry clocks: a node an hour ahead keeps the cluster's time, and both sides say so", async () => {
  const clock = fakeClock()
  const [n1, n2] = ['n1', 'n2'].map((n) => member(n, clock)) as [Node, Node]
  const n3 = member('n3', skewed(clock, 3_600_000))
  for (const [a, b] of [
    [n1, n2],
    [n1, n3],
    [n2, n3],
  ] as const)
    connect(a.transport, b.transport)
  for (const n of [n1, n2, n3]) n.cluster.start()
  await clock.tick(300)
  assert.is(n3.cluster.time.now(), clock.now(), "n3 runs on the others' time")
  assert.is(n1.cluster.time.now(), clock.now(), 'n1 is not moved by n3')
  const [said] = n3.log.events('clock-skew')
  assert.is(said?.level, 'error')
  assert.match(String(said?.fields.message), /3600\.0 s ahead of the cluster's/)
  assert.equal(n3.cluster.skewedClocks(), [{ name: 'n3', aheadMs: 3_600_000, self: true }])
  assert.ok(n1.log.events('member-clock-skew').some((e) => e.fields.member === 'n3'))
  assert.is(n3.log.events('clock-skew').length, 1, 'said once, not on every beat')

  // n3 dies: its clock stops counting anywhere, and nobody warns about it any more.
  n3.transport.muted = true
  await clock.tick(1500)
  assert.equal(n1.cluster.skewedClocks(), [])
  for (const n of [n1, n2, n3]) void n.cluster.close()
})

test('a node restarted with its clock set back an hour refutes its old incarnation and is a member again', async () => {
  const clock = fakeClock()
  const [n1, n2] = ['n1', 'n2'].map((n) => member(n, clock)) as [Node, Node]
  connect(n1.transport, n2.transport)
  const before = member('n3', skewed(clock, 3_600_000))
  connect(n1.transport, before.transport)
  for (const n of [n1, n2, before]) n.cluster.start()
  await clock.tick(300)
  assert.is(statusOf(n1, 'n3'), 'alive')
  before.transport.muted = true
  await clock.tick(1500)
  assert.is(statusOf(n1, 'n3'), 'dead')
  void before.cluster.close()

  // NTP fixed the clock; the same member (same id) starts with an incarnation an hour lower.
  const after = member('n3', clock)
  connect(n1.transport, after.transport)
  connect(n2.transport, after.transport)
  after.cluster.start()
  await clock.tick(500)
  assert.is(statusOf(n1, 'n3'), 'alive')
  assert.is(statusOf(n2, 'n3'), 'alive')
  assert.ok(after.log.events('refuted').length > 0)
  for (const n of [n1, n2, after]) void n.cluster.close()
})

test('heartbeats that cannot be parsed are logged and ignored', async () => {
  const clock = fakeClock()
  const [n1, n2] = await three(clock)
  const link = [...n2!.transport.links].find((l) => l.remoteKey === 'n1')!
  link.send({ type: 'beat', self: { id: 'x' }, members: [] })
  await clock.tick(TIMINGS.heartbeatMs)
  assert.is(n1!.log.events('bad-message').length, 1)
  assert.is(n1!.cluster.members().length, 3)
})

test('a second process on this node’s id is told on both sides, once a link, and the one started later gives it up', async () => {
  const clock = fakeClock()
  const [n1, n2] = [member('n1', clock), member('n2', clock)]
  connect(n1.transport, n2.transport)
  for (const n of [n1, n2]) n.cluster.start()
  await clock.tick(1000)
  // n1's data directory started again elsewhere (a cloned machine): same id, another URL.
  const transport = new MemoryTransport('n1-clone')
  const clone = new Cluster({
    self: { id: 'id-n1', name: 'n1', url: 'http://127.0.0.1:9/n1' },
    transport,
    timings: TIMINGS,
    clock,
    log: recordingLogger(),
  })
  const told: Record<string, unknown[]> = { n1: [], clone: [] }
  n1.cluster.on('twin', (t) => told.n1!.push(t))
  clone.on('twin', (t) => told.clone!.push(t))
  connect(transport, n1.transport)
  connect(transport, n2.transport)
  clone.start()
  await clock.tick(1000)
  assert.equal(told.n1, [{ url: 'http://127.0.0.1:9/n1', yields: false }], 'n1 keeps its id')
  assert.equal(told.clone, [{ url: 'http://127.0.0.1:1/n1', yields: true }], 'the later one')
  assert.equal(
    n1.cluster.members().map((m) => m.url),
    ['http://127.0.0.1:1/n1', 'http://127.0.0.1:1/n2'],
    'its twin is not a member in its eyes',
  )
  for (const c of [n1.cluster, n2.cluster, clone]) void c.close()
})

test('of two twins, the one that started later gives the id up; on a tie, the later URL', () => {
  const mine = { url: 'http://b:1', startedAt: 2000 }
  assert.is(twinYields(mine, { url: 'http://a:1', startedAt: 1000 }), true)
  assert.is(twinYields(mine, { url: 'http://c:1', startedAt: 3000 }), false)
  assert.is(twinYields(mine, { url: 'http://a:1', startedAt: 2000 }), true)
  assert.is(twinYields(mine, { url: 'http://c:1', startedAt: 2000 }), false)
  assert.is(twinYields(mine, { url: 'http://a:1' }), true, 'an older node says no start')
})

test('a member running another job is named once, with both jobs; the same job says nothing', async () => {
  const clock = fakeClock()
  const [a, b, c] = [
    member('n1', clock, 'csv-export'),
    member('n2', clock, 'csv-export'),
    member('n3', clock, 'pdf'),
  ]
  connect(a.transport, b.transport)
  connect(a.transport, c.transport)
  for (const n of [a, b, c]) n.cluster.start()
  await clock.tick(1000)
  const mismatches = a.log.entries.filter((e) => e.event === 'job-mismatch')
  assert.is(mismatches.length, 1, 'once, however many beats')
  assert.equal(
    [mismatches[0]!.fields.member, mismatches[0]!.fields.theirs, mismatches[0]!.fields.ours],
    ['n3', 'pdf', 'csv-export'],
  )
  assert.is(b.log.entries.filter((e) => e.event === 'job-mismatch').length, 0)
  for (const n of [a, b, c]) n.cluster.close()
})

test('a member whose disk is low says so in its beats: the others see it take no new work, and take it again once it says so', async () => {
  const clock = fakeClock()
  let low = false
  const [a, b] = [member('n1', clock), member('n2', clock, undefined, () => low)]
  connect(a.transport, b.transport)
  for (const n of [a, b]) n.cluster.start()
  await clock.tick(300)
  assert.ok(a.cluster.takesWork('id-n2'))
  low = true
  await clock.tick(300)
  assert.not.ok(a.cluster.takesWork('id-n2'))
  assert.ok(b.cluster.takesWork('id-n1'), 'n1 said nothing of the kind')
  low = false
  await clock.tick(300)
  assert.ok(a.cluster.takesWork('id-n2'))
  for (const n of [a, b]) n.cluster.close()
})

test.run()
