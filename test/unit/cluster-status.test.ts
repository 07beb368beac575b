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

test('each member is shown with its own figures, or without when it did not answer', () => {
  const status = mergeStatus(
    5000,
    'n1',
    [member('n2'), member('n1'), member('n3', 'dead', 2), member('n10')],
    new Map([
      ['n1', self('n1')],
      ['n2', self('n2', { running: 3, scribe: true })],
    ]),
  )
  assert.equal(
    status.nodes.map((n) => [n.name, n.status, n.running, n.scribe]),
    [
      ['n1', 'alive', 1, false],
      ['n2', 'alive', 3, true],
      ['n3', 'dead', null, null],
      ['n10', 'alive', null, null],
    ],
    'in name order, numbers as numbers',
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
})

test('a node lists as joined only a member that started after it, or came back: at its own start it is the one joining', () => {
  const startedAt = 50_000
  // Restarted at 50 s, it meets the members that ran all along: they did not join.
  assert.is(listedEvent('joined', { incarnation: 10_000 }, startedAt, false), null)
  // One that starts (or restarts) after it did.
  assert.is(listedEvent('joined', { incarnation: 60_000 }, startedAt, false), 'joined')
  // Declared dead, then back (a cut healed, a false verdict refuted): its incarnation one up.
  assert.is(listedEvent('dead', { incarnation: 10_000 }, startedAt, true), 'dead')
  assert.is(listedEvent('joined', { incarnation: 10_001 }, startedAt, true), 'joined')
  assert.is(listedEvent('left', { incarnation: 60_000 }, startedAt, true), 'left')
  assert.is(listedEvent('refuted', { incarnation: 60_000 }, startedAt, true), null)
  assert.is(listedEvent('suspect', { incarnation: 60_000 }, startedAt, true), null)
})

test.run()
