/**
 * The quorum over real membership: members heartbeating over an in-memory transport on a fake
 * clock, split and healed. The side cut off must stop before the others declare it dead.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Cluster } from '../../src/cluster/cluster.ts'
import { QuorumWatch } from '../../src/cluster/quorum-watch.ts'
import type { QuorumRule } from '../../src/cluster/quorum.ts'
import { fakeClock, type FakeClock } from '../helpers/clock.ts'
import { MemoryTransport, connect } from '../helpers/memory-transport.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'

const TIMINGS = { heartbeatMs: 100, suspectAfterMs: 500, suspicionMs: 300 }

interface Member {
  name: string
  id: string
  transport: MemoryTransport
  cluster: Cluster
  watch: QuorumWatch
  voters: Set<string>
  log: ReturnType<typeof recordingLogger>
  /** Fake-clock times at which the quorum was lost and regained. */
  lost: number[]
  regained: number[]
}

function members(
  names: string[],
  clock: FakeClock,
  {
    rule = { kind: 'majority' } as QuorumRule,
    forgetDeadMs = 3_600_000,
    caughtUp = undefined as ((ids: string[], since: number) => boolean) | undefined,
  } = {},
): Member[] {
  const ids = names.map((n) => `id-${n}`)
  return names.map((name, i) => {
    const transport = new MemoryTransport(name)
    const log = recordingLogger()
    const id = ids[i]!
    const cluster: Cluster = new Cluster({
      self: { id, name, url: `http://127.0.0.1:1/${name}` },
      transport,
      timings: TIMINGS,
      clock,
      mayDeclareDead: () => watch.holds(),
      log,
    })
    const voters = new Set(ids.filter((x) => x !== id))
    const watch = new QuorumWatch({
      rule,
      selfId: id,
      voters: () => [...voters],
      reaches: (m) => cluster.reaches(m),
      silentMs: (m) => cluster.silentMs(m),
      nameOf: (m) => cluster.member(m)?.name,
      statusOf: (m) => cluster.member(m)?.status,
      forget: (m) => voters.delete(m),
      forgetDeadMs,
      caughtUp,
      intervalMs: TIMINGS.heartbeatMs,
      clock,
      log,
    })
    const m: Member = { name, id, transport, cluster, watch, voters, log, lost: [], regained: [] }
    watch.on('change', (s) => (s.ok ? m.regained : m.lost).push(clock.now()))
    cluster.on('member', () => watch.check())
    return m
  })
}

/** Links every pair; returns the cut of each pair's link, by "a-b". */
function mesh(nodes: Member[]): Map<string, () => void> {
  const cuts = new Map<string, () => void>()
  for (let i = 0; i < nodes.length; i++)
    for (let j = i + 1; j < nodes.length; j++)
      cuts.set(
        `${nodes[i]!.name}-${nodes[j]!.name}`,
        connect(nodes[i]!.transport, nodes[j]!.transport),
      )
  return cuts
}

async function start(nodes: Member[], clock: FakeClock): Promise<void> {
  for (const n of nodes) n.cluster.start()
  await clock.tick(300)
  for (const n of nodes) n.watch.start()
  for (const n of nodes) assert.ok(n.watch.holds(), `${n.name} starts with its quorum`)
}

const statusOf = (viewer: Member, name: string) =>
  viewer.cluster.members().find((m) => m.name === name)?.status
const deadAt = (viewer: Member, name: string) => statusOf(viewer, name) === 'dead'

/** Ticks 10 ms at a time until `done`, returning the time taken. */
async function until(clock: FakeClock, done: () => boolean, limitMs = 5000): Promise<number> {
  const from = clock.now()
  while (!done()) {
    if (clock.now() - from > limitMs) throw new Error(`not within ${limitMs} ms`)
    await clock.tick(10)
  }
  return clock.now() - from
}

function close(nodes: Member[]): void {
  for (const n of nodes) {
    n.watch.stop()
    void n.cluster.close()
  }
}

test('a member cut off from two others stops before they declare it dead, and they keep working', async () => {
  const clock = fakeClock()
  const nodes = members(['n1', 'n2', 'n3'], clock)
  const [n1, n2, n3] = nodes as [Member, Member, Member]
  const cuts = mesh(nodes)
  await start(nodes, clock)

  const cutAt = clock.now()
  assert.not.ok(n3.watch.cutOff())
  cuts.get('n1-n3')!()
  cuts.get('n2-n3')!()
  await until(clock, () => deadAt(n1, 'n3') && deadAt(n2, 'n3'))
  const declared = clock.now() - cutAt
  assert.is(n3.lost.length, 1, 'n3 lost its quorum')
  assert.ok(n3.watch.cutOff(), 'its pages are told it is cut off')
  const stopped = n3.lost[0]! - cutAt
  assert.ok(
    stopped <= TIMINGS.suspectAfterMs + TIMINGS.heartbeatMs,
    `n3 stopped ${stopped} ms after the cut`,
  )
  assert.ok(
    declared - stopped >= 2 * TIMINGS.heartbeatMs,
    `n3 stopped at ${stopped} ms, the others declared it dead at ${declared} ms`,
  )
  assert.is(n3.watch.holds(), false)
  assert.is(
    statusOf(n3, 'n1'),
    'suspect',
    'cut off, n3 declares nobody dead: the fault may be its own',
  )
  assert.is(statusOf(n3, 'n2'), 'suspect')
  assert.match(
    String(n3.log.events('quorum-lost')[0]?.fields.message),
    /reaches 1 of .* 3 .* needs 2/,
  )
  // Who went silent, by name: an operator knows n1 and n2, not their ids.
  assert.match(
    String(n3.log.events('quorum-lost')[0]?.fields.silentMs),
    /^(n1:\d+,n2:\d+|n2:\d+,n1:\d+)$/,
  )
  for (const n of [n1, n2]) {
    assert.equal(n.lost, [], `${n.name} never lost its quorum`)
    assert.ok(n.watch.holds())
  }

  // The heal: n3 is heard again, refutes its death, and acts again.
  connect(n1.transport, n3.transport)
  connect(n2.transport, n3.transport)
  await until(clock, () => n3.watch.holds() && !deadAt(n1, 'n3'))
  await clock.tick(TIMINGS.heartbeatMs)
  assert.is(n3.regained.length, 1)
  assert.is(n3.log.events('quorum-regained').length, 1)
  // n3 had declared n1 and n2 dead; its heartbeats say so at the heal, but n1 and n2 hear each
  // other: that stale verdict must not kill them there (they would take each other's work).
  assert.ok(deadAt(n3, 'n1') === false && statusOf(n3, 'n1') === 'alive', 'n1 refuted on n3')
  for (const [viewer, other] of [
    [n1, 'n2'],
    [n2, 'n1'],
  ] as const) {
    const deaths = viewer.log.events('member-dead').map((e) => e.fields.member)
    assert.equal(deaths, ['n3'], `${viewer.name} never declared ${other} dead`)
  }
  for (const n of [n1, n2]) assert.equal(n.lost, [], `${n.name} kept its quorum at the heal`)
  close(nodes)
})

test('a node that starts before it meets its members is joining, not cut off, for a grace; once it held its quorum, a loss is a cut', async () => {
  const clock = fakeClock()
  const nodes = members(['n1', 'n2', 'n3'], clock)
  const [n1] = nodes as [Member]
  // Restarted: it knows its voters, and has met none of them yet.
  n1.watch.start()
  assert.not.ok(n1.watch.holds())
  assert.not.ok(n1.watch.cutOff(), 'a restarted node that has not met them yet')
  // Still alone after the grace (restarted on the small side of a partition): cut off, so its
  // pages move to a member that can serve them.
  await clock.tick(3000)
  assert.ok(n1.watch.cutOff())
  const cuts = mesh(nodes)
  for (const n of nodes) n.cluster.start()
  await until(clock, () => n1.watch.holds())
  await clock.tick(200)
  assert.not.ok(n1.watch.cutOff())
  cuts.get('n1-n2')!()
  cuts.get('n1-n3')!()
  await until(clock, () => n1.lost.length === 1)
  assert.ok(n1.watch.cutOff())
  close(nodes)
})

test('two of five cut off both stop; the three keep their quorum', async () => {
  const clock = fakeClock()
  const nodes = members(['n1', 'n2', 'n3', 'n4', 'n5'], clock)
  const cuts = mesh(nodes)
  await start(nodes, clock)
  const minority = ['n4', 'n5']
  for (const [pair, cut] of cuts) {
    const [a, b] = pair.split('-')
    if (minority.includes(a!) !== minority.includes(b!)) cut()
  }
  await until(clock, () => nodes.slice(0, 3).every((n) => deadAt(n, 'n4') && deadAt(n, 'n5')))
  for (const n of nodes.slice(3)) assert.is(n.watch.holds(), false, `${n.name} stopped`)
  for (const n of nodes.slice(0, 3)) assert.equal(n.lost, [], `${n.name} kept working`)
  close(nodes)
})

test('a member killed: the two left hold their quorum; a second death stops the last', async () => {
  const clock = fakeClock()
  const nodes = members(['n1', 'n2', 'n3'], clock)
  const [n1, n2, n3] = nodes as [Member, Member, Member]
  mesh(nodes)
  await start(nodes, clock)
  n3.transport.muted = true
  await until(clock, () => deadAt(n1, 'n3'))
  assert.ok(n1.watch.holds() && n2.watch.holds())
  n2.transport.muted = true
  await until(clock, () => !n1.watch.holds())
  assert.is(n1.lost.length, 1, 'n1 alone, one of three, stops: a majority must be back')
  close(nodes)
})

test('a member dead for --forget-dead-ms stops counting, but only where the quorum holds', async () => {
  const clock = fakeClock()
  const nodes = members(['n1', 'n2', 'n3'], clock, { forgetDeadMs: 5000 })
  const [n1, n2, n3] = nodes as [Member, Member, Member]
  const cuts = mesh(nodes)
  await start(nodes, clock)
  // n3 is cut off: n1 and n2 hold their quorum and forget it; n3, cut off, forgets nobody.
  cuts.get('n1-n3')!()
  cuts.get('n2-n3')!()
  await clock.tick(4000)
  assert.ok(n1.voters.has(n3.id), 'not yet')
  await clock.tick(2000)
  assert.not.ok(n1.voters.has(n3.id), 'forgotten by n1')
  assert.not.ok(n2.voters.has(n3.id), 'and by n2')
  assert.ok(n1.log.events('member-forgotten').length === 1)
  assert.equal(
    [...n3.voters].sort(),
    [n1.id, n2.id],
    'the side without a quorum cannot vote itself one',
  )
  // Two voters now: n2 dying leaves n1 with one of two, not a majority.
  n2.transport.muted = true
  await until(clock, () => !n1.watch.holds())
  close(nodes)
})

test('with --quorum off a node alone keeps working', async () => {
  const clock = fakeClock()
  const nodes = members(['n1', 'n2', 'n3'], clock, { rule: { kind: 'off' } })
  const [n1, n2, n3] = nodes as [Member, Member, Member]
  mesh(nodes)
  await start(nodes, clock)
  n2.transport.muted = true
  n3.transport.muted = true
  await until(clock, () => deadAt(n1, 'n2') && deadAt(n1, 'n3'))
  assert.ok(n1.watch.holds())
  assert.equal(n1.lost, [])
  close(nodes)
})

/** n3 cut off from n1 and n2 until they declare it dead, then linked again; resolves at the heal. */
async function cutN3AndHeal(nodes: Member[], clock: FakeClock): Promise<number> {
  const [n1, n2, n3] = nodes as [Member, Member, Member]
  const cuts = mesh(nodes)
  await start(nodes, clock)
  cuts.get('n1-n3')!()
  cuts.get('n2-n3')!()
  await until(clock, () => deadAt(n1, 'n3'))
  assert.not.ok(n3.watch.mayAct())
  const healedAt = clock.now()
  connect(n1.transport, n3.transport)
  connect(n2.transport, n3.transport)
  await until(clock, () => n3.watch.holds())
  return healedAt
}

test('back from a cut, a node acts only once its log has caught up with the members it reaches', async () => {
  const clock = fakeClock()
  let caughtUp = false
  const asked: { ids: string[]; since: number }[] = []
  const nodes = members(['n1', 'n2', 'n3'], clock, {
    caughtUp: (ids, since) => {
      asked.push({ ids, since })
      return caughtUp
    },
  })
  const [n1, n2, n3] = nodes as [Member, Member, Member]
  const healedAt = await cutN3AndHeal(nodes, clock)
  await clock.tick(1000)
  assert.ok(n3.watch.holds(), 'it reaches its quorum')
  assert.not.ok(n3.watch.mayAct(), 'but does not act on a log that is behind')
  assert.equal(n3.regained, [])
  const last = asked.at(-1)!
  assert.equal(last.ids.sort(), [n1.id, n2.id], 'it asks about the members it reaches')
  assert.ok(last.since >= healedAt, 'for adverts heard since it is back')

  caughtUp = true
  await clock.tick(TIMINGS.heartbeatMs)
  assert.ok(n3.watch.mayAct())
  assert.is(n3.regained.length, 1)
  close(nodes)
})

test('a log that never catches up holds a node back 5 s at most, and it says so', async () => {
  const clock = fakeClock()
  const nodes = members(['n1', 'n2', 'n3'], clock, { caughtUp: () => false })
  const n3 = nodes[2]!
  await cutN3AndHeal(nodes, clock)
  const backAt = clock.now()
  await until(clock, () => n3.watch.mayAct(), 10_000)
  const waited = clock.now() - backAt
  assert.ok(waited >= 4900 && waited <= 5300, `acted after ${waited} ms`)
  assert.is(n3.log.events('log-catch-up-slow').length, 1)
  close(nodes)
})

/** A watch over members the test reaches or not, with the turn after the sockets in its hand. */
function bareWatch() {
  const clock = fakeClock()
  const reached = new Set(['a', 'b'])
  const afterIo: (() => void)[] = []
  const log = recordingLogger()
  const watch = new QuorumWatch({
    rule: { kind: 'majority' },
    selfId: 'me',
    voters: () => ['a', 'b'],
    reaches: (id) => reached.has(id),
    statusOf: () => 'alive',
    forget: () => {},
    forgetDeadMs: 3_600_000,
    intervalMs: 100,
    leaseMs: 500,
    deadAfterMs: 800,
    afterIo: (f) => afterIo.push(f),
    clock,
    log,
  })
  const told: boolean[] = []
  watch.on('change', (state) => told.push(state.ok))
  watch.check()
  const readSockets = () => afterIo.splice(0).forEach((f) => f())
  return { watch, reached, readSockets, told, log, clock }
}

test('after a stall of its own loop, a node whose peers’ heartbeats were only waiting unread keeps its quorum', async () => {
  const { watch, reached, readSockets, told } = bareWatch()
  // The timer that judges runs before the poll phase: every lease looks expired.
  reached.clear()
  watch.check()
  assert.not.ok(watch.mayAct(), 'nothing acts on a quorum that may be gone')
  const verdict = watch.settled()
  assert.equal(told, [], 'but the loss is not told yet')
  // The poll phase reads the heartbeats that waited in the sockets.
  reached.add('a').add('b')
  readSockets()
  assert.is(await verdict, true)
  assert.equal(told, [], 'no loss, no workers stopped')
  assert.ok(watch.mayAct())
})

test('right after its own loop stood still, a node waits for beats the stall dropped, as long as it stood still', async () => {
  const { watch, reached, readSockets, told, clock } = bareWatch()
  // 600 ms with no check: this node's loop stood still, and its peers' datagrams sent meanwhile
  // were dropped by a full socket buffer.
  await clock.tick(600)
  reached.clear()
  watch.check()
  const verdict = watch.settled()
  readSockets()
  assert.equal(told, [], 'still silent once the sockets are read, but not told yet')
  assert.not.ok(watch.mayAct(), 'nor acting meanwhile')
  // Their loops stood still too: the next heartbeats come a few intervals later.
  await clock.tick(100)
  readSockets()
  await clock.tick(100)
  readSockets()
  assert.equal(told, [])
  reached.add('a').add('b')
  await clock.tick(100)
  readSockets()
  assert.is(await verdict, true)
  assert.equal(told, [], 'no loss, no workers stopped')

  // A silence that outlasts that heartbeat is told then.
  await clock.tick(600)
  reached.clear()
  watch.check()
  const lost = watch.settled()
  for (let i = 0; i < 6; i++) {
    readSockets()
    await clock.tick(100)
  }
  readSockets()
  assert.is(await lost, false, 'told once silent for as long as the stall')
  assert.equal(told, [false])
})

test('back from standing still longer than its lease, a node is rejoining, not cut off, for a grace: a warning, not an error; cut off, and told, if its members stay out of reach', async () => {
  const { watch, reached, readSockets, told, log, clock } = bareWatch()
  watch.start()
  let graceOver = 0
  watch.on('grace-over', () => graceOver++)
  /** Ticks `ms` in 10 ms steps, reading the sockets at each: its timer judges every 100 ms. */
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += 10) {
      await clock.tick(10)
      readSockets()
    }
  }
  await run(500)
  // Paused 20 s: its members took it for dead and dropped its links.
  clock.stall(20_000)
  reached.clear()
  await run(600)
  assert.equal(told, [false], 'its workers stop')
  assert.is(log.events('quorum-lost').length, 0, 'no error: it was away, not cut')
  const [rejoining] = log.events('rejoining')
  assert.is(rejoining!.level, 'warn')
  assert.match(String(rejoining!.fields.message), /back from standing still 20\d{3} ms/)
  assert.not.ok(watch.cutOff(), 'its pages are not sent away meanwhile')
  // Its links come back within the grace.
  reached.add('a').add('b')
  await run(200)
  assert.equal(told, [false, true])
  assert.is(log.events('quorum-regained').length, 1)
  assert.not.ok(watch.cutOff())

  // Paused again, and this time its members stay out of reach: cut off at the grace's end.
  clock.stall(20_000)
  reached.clear()
  await run(4500)
  assert.not.ok(watch.cutOff(), 'still within the grace')
  assert.is(graceOver, 0)
  await run(600)
  assert.ok(watch.cutOff(), 'cut off after 5 s')
  assert.is(graceOver, 1, 'told once, so its pages hear of it')
  const lost = log.events('quorum-lost')
  assert.is(lost.length, 1, 'an error now')
  assert.match(String(lost[0]!.fields.message), /has not met its members again within 5 s/)
  await run(1000)
  assert.is(graceOver, 1)
  assert.is(log.events('quorum-lost').length, 1)
  // A stall while cut off already leaves it cut off: its pages stay told.
  clock.stall(2000)
  await run(200)
  assert.ok(watch.cutOff(), 'no grace for a node that did not hold its quorum')
  // A loss with no stall before it is a cut at once, as before.
  reached.add('a').add('b')
  await run(200)
  reached.clear()
  await run(700)
  assert.ok(watch.cutOff())
  assert.is(log.events('quorum-lost').length, 2)
  // Nor after a stall shorter than the members' death verdict (600 ms): they did not drop it,
  // and a silence then is a cut, told as one.
  reached.add('a').add('b')
  await run(200)
  clock.stall(600)
  reached.clear()
  await run(700)
  assert.ok(watch.cutOff())
  assert.is(log.events('quorum-lost').length, 3)
  assert.is(log.events('rejoining').length, 2, 'the two long stalls only')
  watch.stop()
})

test('a loss still there once the sockets are read is told, once', async () => {
  const { watch, reached, readSockets, told, log } = bareWatch()
  reached.clear()
  watch.check()
  watch.mayAct()
  const verdict = watch.settled()
  readSockets()
  assert.is(await verdict, false)
  assert.equal(told, [false])
  assert.is(log.events('quorum-lost').length, 1)
  watch.check()
  readSockets()
  assert.equal(told, [false], 'told once')
  assert.is(await watch.settled(), false, 'a loss already told is answered at once')
})

test.run()
