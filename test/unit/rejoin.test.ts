import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Rejoin, watchRejoin } from '../../src/cluster/rejoin.ts'
import { fakeClock } from '../helpers/clock.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'

function setup(knownBefore: string[], o: { maxWaitMs?: number; graceMs?: number } = {}) {
  const clock = fakeClock()
  const world = { live: ['a'], synced: true, asked: [] as string[][] }
  const rejoin = new Rejoin({
    selfId: 'a',
    knownBefore: new Set(knownBefore),
    live: () => world.live,
    synced: (ids) => {
      world.asked.push(ids)
      return world.synced
    },
    clock,
    maxWaitMs: o.maxWaitMs ?? 60_000,
    graceMs: o.graceMs ?? 5000,
  })
  return { clock, world, rejoin }
}

test('a new node, or one that only knew itself, acts at once', () => {
  assert.ok(setup([]).rejoin.ready())
  assert.ok(setup(['a']).rejoin.ready())
})

test('a restarted member of three waits for a second one, and for its log, before it acts', async () => {
  const s = setup(['a', 'b', 'c'])
  assert.equal(s.rejoin.state(), { ready: false, known: 3, alive: 1, needed: 2, synced: true })
  s.world.live = ['a', 'b']
  s.world.synced = false
  assert.not.ok(s.rejoin.ready(), 'b is back but its log is not read yet')
  assert.equal(s.world.asked.at(-1), ['b'], 'synced with the members that are back')
  s.world.synced = true
  assert.ok(s.rejoin.ready())
  s.world.live = ['a']
  assert.ok(s.rejoin.ready(), 'once ready, ready for good: later deaths are failover')
})

test('members that were not in the cluster before do not make a majority', () => {
  const s = setup(['a', 'b', 'c'])
  s.world.live = ['a', 'newcomer-1', 'newcomer-2']
  assert.not.ok(s.rejoin.ready())
})

test('alone for the whole wait, a node acts anyway, and says it is alone', async () => {
  const s = setup(['a', 'b', 'c'], { maxWaitMs: 60_000 })
  await s.clock.tick(59_999)
  assert.not.ok(s.rejoin.ready())
  await s.clock.tick(1)
  assert.equal(s.rejoin.state(), { ready: true, since: s.clock.now(), alone: true })
})

test('an owner not heard of since the restart is presumed gone only a grace after the majority', async () => {
  const s = setup(['a', 'b', 'c'], { graceMs: 5000 })
  await s.clock.tick(10_000)
  assert.not.ok(s.rejoin.unheardOwnerGone(), 'not while waiting')
  s.world.live = ['a', 'b']
  assert.ok(s.rejoin.ready())
  await s.clock.tick(4999)
  assert.not.ok(s.rejoin.unheardOwnerGone(), 'c may still be on its way back')
  await s.clock.tick(1)
  assert.ok(s.rejoin.unheardOwnerGone())
})

test('a wait that lasts is told once, saying whether a majority or the log is awaited', async () => {
  const s = setup(['a', 'b', 'c'])
  const log = recordingLogger()
  let readyCalls = 0
  const stop = watchRejoin(s.rejoin, s.clock, log, () => readyCalls++)
  await s.clock.tick(1000)
  assert.equal(log.events('waiting-for-cluster'), [], 'not for a routine restart')
  s.world.live = ['a', 'b']
  s.world.synced = false
  await s.clock.tick(1500)
  const told = log.events('waiting-for-cluster')
  assert.is(told.length, 1)
  assert.match(String(told[0]!.fields.message), /caught up with its cluster’s log/)
  assert.equal(
    { ...told[0]!.fields, message: undefined },
    {
      message: undefined,
      known: 3,
      alive: 2,
      needed: 2,
      synced: false,
    },
  )
  s.world.synced = true
  await s.clock.tick(250)
  assert.is(readyCalls, 1)
  assert.equal(log.events('cluster-back')[0]?.fields, { message: 'a majority is back' })
  stop()

  const lone = setup(['a', 'b', 'c'])
  const lonely = recordingLogger()
  watchRejoin(lone.rejoin, lone.clock, lonely, () => {})
  await lone.clock.tick(2500)
  assert.match(
    String(lonely.events('waiting-for-cluster')[0]?.fields.message),
    /until a majority of its cluster is back/,
  )
})

test.run()
