import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  EVENTS_KEPT,
  StatusEvents,
  listedEvent,
  mergeStatus,
  parseNodeSelf,
  type NodeSelf,
} from '../../src/cluster-status.ts'

const member = (id: string, status = 'alive', incarnation = 1) => ({
  id,
  name: id,
  url: `http://127.0.0.1:400${id.slice(1)}`,
  status,
  incarnation,
})

const self = (id: string, over: Partial<NodeSelf> = {}): NodeSelf => ({
  ...member(id),
  uptimeMs: 1000,
  running: 1,
  logLength: 10,
  scribe: false,
  dataBytes: 2048,
  events: [],
  ...over,
})

const cut = { ok: false, reachable: 1, voters: 3, needed: 2 }

test('each member is shown with its own figures, or without when it did not answer', () => {
  const status = mergeStatus(
    5000,
    'n1',
    [member('n2'), member('n1'), member('n3', 'dead', 2), member('n10')],
    new Map([
      ['n1', self('n1')],
      ['n2', self('n2', { running: 3, scribe: true, quorum: cut, diskLow: true })],
    ]),
  )
  assert.equal(
    status.nodes.map((n) => [
      n.name,
      n.status,
      n.running,
      n.scribe,
      n.quorum?.ok ?? null,
      n.diskLow,
    ]),
    [
      ['n1', 'alive', 1, false, null, false],
      ['n2', 'alive', 3, true, false, true],
      ['n3', 'dead', null, null, null, false],
      ['n10', 'alive', null, null, null, false],
    ],
    'in name order, numbers as numbers; a node cut off, or short of disk, says so',
  )
  assert.is(status.servedBy, 'n1')
})

test('a death every node saw is listed once; events newest first', () => {
  const dead = { at: 100, kind: 'dead' as const, node: 'n3', incarnation: 2 }
  const status = mergeStatus(
    5000,
    'n1',
    [member('n1'), member('n2')],
    new Map([
      ['n1', self('n1', { events: [dead] })],
      [
        'n2',
        self('n2', {
          events: [
            { ...dead, at: 101 },
            { at: 300, kind: 'takeover', node: 'n2', incarnation: 1, detail: 'from n3 at 40 %' },
          ],
        }),
      ],
    ]),
  )
  assert.equal(
    status.events.map((e) => `${e.node} ${e.kind}`),
    ['n2 takeover', 'n3 dead'],
  )
})

test('a return seen as joined by one node and as back by another is listed once, as back', () => {
  const arrival = { at: 200, node: 'n3', incarnation: 7 }
  const status = mergeStatus(
    5000,
    'n1',
    [member('n1'), member('n2'), member('n3')],
    new Map([
      ['n1', self('n1', { events: [{ ...arrival, kind: 'back' }] })],
      ['n2', self('n2', { events: [{ ...arrival, at: 201, kind: 'joined' }] })],
    ]),
  )
  assert.equal(
    status.events.map((e) => `${e.node} ${e.kind}`),
    ['n3 back'],
  )
})

test('a node keeps its last events only', () => {
  const events = new StatusEvents()
  for (let i = 0; i < EVENTS_KEPT + 5; i++)
    events.add({ at: i, kind: 'joined', node: `n${i}`, incarnation: i })
  assert.is(events.list().length, EVENTS_KEPT)
  assert.is(events.list()[0]!.at, EVENTS_KEPT + 4)
})

test('what a peer says of itself is checked before it is shown', () => {
  assert.ok(parseNodeSelf(JSON.parse(JSON.stringify(self('n1')))))
  assert.is(parseNodeSelf({ ...self('n1'), uptimeMs: 'long' }), null)
  assert.is(parseNodeSelf(null), null)
  assert.is(parseNodeSelf({ ...self('n1'), scribe: 'yes' }), null)
  const { scribe: _, ...older } = self('n1')
  assert.is(parseNodeSelf(older)?.scribe, false, 'a node that does not say is not the scribe')
  const odd = parseNodeSelf({
    ...self('n1'),
    events: [{ at: 1, kind: 'exploded', node: 'n1', incarnation: 1 }, 'x'],
  })
  assert.equal(odd?.events, [], 'events of no known kind are dropped')
  assert.equal(parseNodeSelf({ ...self('n1'), quorum: cut })?.quorum, cut)
  assert.is(
    parseNodeSelf({ ...self('n1'), quorum: { ok: 'no' } })?.quorum,
    undefined,
    'a quorum that does not read is not shown',
  )
  // A member whose disk is low says so; anything but true is not.
  assert.is(parseNodeSelf({ ...self('n1'), diskLow: true })?.diskLow, true)
  assert.is(parseNodeSelf({ ...self('n1'), diskLow: 'yes' })?.diskLow, undefined)
  assert.is(parseNodeSelf(self('n1'))?.diskLow, undefined)
})

test('a node lists as joined only a member that started after it, and one heard of before as back: at its own start it is the one joining', () => {
  const startedAt = 50_000
  // Restarted at 50 s, it meets the members that ran all along: they did not join.
  assert.is(listedEvent('joined', { incarnation: 10_000 }, startedAt, null), null)
  // One that starts (or restarts) after it did.
  assert.is(listedEvent('joined', { incarnation: 60_000 }, startedAt, null), 'joined')
  // Declared dead, then back (a cut healed, a false verdict refuted): its incarnation one up.
  assert.is(listedEvent('dead', { incarnation: 10_000 }, startedAt, 10_000), 'dead')
  assert.is(listedEvent('joined', { incarnation: 10_001 }, startedAt, 10_000), 'back')
  assert.is(listedEvent('left', { incarnation: 60_000 }, startedAt, 60_000), 'left')
  assert.is(listedEvent('refuted', { incarnation: 60_000 }, startedAt, 60_000), null)
  assert.is(listedEvent('suspect', { incarnation: 60_000 }, startedAt, 60_000), null)
})

test('a member only suspected that is alive again is back if it restarted meanwhile (a new start), not if it refuted the suspicion', () => {
  const startedAt = 50_000
  assert.is(listedEvent('alive', { incarnation: 10_001 }, startedAt, 10_000), null, 'refuted')
  assert.is(listedEvent('alive', { incarnation: 10_005 }, startedAt, 10_000), null, 'again')
  assert.is(listedEvent('alive', { incarnation: 95_000 }, startedAt, 10_000), 'back')
  assert.is(listedEvent('alive', { incarnation: 95_000 }, startedAt, null), null)
})

test.run()
