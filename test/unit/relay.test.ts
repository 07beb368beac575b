import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Relay, type ProgressTick, type RelayedCheckpoint } from '../../src/cluster/relay.ts'
import { MemoryTransport, connect } from '../helpers/memory-transport.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'

const settle = () => new Promise((resolve) => setImmediate(resolve))

function node(name: string) {
  const transport = new MemoryTransport(name)
  const log = recordingLogger()
  const relay = new Relay(transport, log)
  const got: ProgressTick[] = []
  relay.on('progress', (t) => got.push(t))
  return { transport, log, relay, got }
}

const tick = (userId: string, progress: number): ProgressTick => ({
  id: `d-${userId}`,
  userId,
  epoch: 1,
  progress,
  at: 1000 + progress,
})

test('a tick reaches the peers that watch its user, and no other', async () => {
  const [a, b, c] = [node('a'), node('b'), node('c')]
  connect(a.transport, b.transport)
  connect(a.transport, c.transport)
  b.relay.watch('u1')
  await settle()
  assert.is(a.relay.watchers('u1'), 1)
  a.relay.publish(tick('u1', 10))
  a.relay.publish(tick('u2', 20))
  await settle()
  assert.equal(b.got, [tick('u1', 10)])
  assert.equal(c.got, [])
  assert.equal(a.relay.stats.sent, 1)
})

test('interest holds while any socket of the user is open here', async () => {
  const [a, b] = [node('a'), node('b')]
  connect(a.transport, b.transport)
  b.relay.watch('u1')
  b.relay.watch('u1')
  b.relay.unwatch('u1')
  await settle()
  assert.is(a.relay.watchers('u1'), 1, 'one socket is still open')
  b.relay.unwatch('u1')
  await settle()
  assert.is(a.relay.watchers('u1'), 0)
  a.relay.publish(tick('u1', 30))
  await settle()
  assert.equal(b.got, [])
})

test('a link that opens later is told the whole interest at once', async () => {
  const [a, b] = [node('a'), node('b')]
  b.relay.watch('u1')
  b.relay.watch('u2')
  connect(a.transport, b.transport)
  await settle()
  assert.equal([a.relay.watchers('u1'), a.relay.watchers('u2')], [1, 1])
})

test('a closed link drops what its peer wanted', async () => {
  const [a, b] = [node('a'), node('b')]
  const cut = connect(a.transport, b.transport)
  b.relay.watch('u1')
  await settle()
  cut()
  assert.is(a.relay.watchers('u1'), 0)
})

test('malformed relay messages are logged and change nothing', async () => {
  const [a, b] = [node('a'), node('b')]
  connect(a.transport, b.transport)
  await settle()
  const link = [...a.transport.links][0]!
  for (const bad of [
    { type: 'progress', id: 'x', userId: 'u1', epoch: 1, progress: 101, at: 1 },
    { type: 'progress', id: '../x', userId: 'u1', epoch: 1, progress: 5, at: 1 },
    { type: 'interest', add: 'u1' },
    { type: 'interest', add: [42] },
  ])
    link.send(bad)
  await settle()
  assert.equal(b.got, [])
  assert.is(b.relay.watchers('u1'), 0)
  // Each says what it was and the likely cause (a peer of another version).
  assert.equal(
    b.log.events('bad-relay-message').map((e) => e.fields.type),
    ['progress', 'progress', 'interest', 'interest'],
  )
  assert.match(String(b.log.events('bad-relay-message')[0]!.fields.message), /another version/)
})

test('a checkpoint goes to the members named, over their links, and a malformed one is refused', async () => {
  const [a, b, c] = [node('a'), node('b'), node('c')]
  connect(a.transport, b.transport)
  connect(a.transport, c.transport)
  // Membership names each link's member from its heartbeats; here the endpoint's name.
  for (const link of a.transport.links) link.memberId = link.remoteKey
  const held: RelayedCheckpoint[] = []
  b.relay.on('checkpoint', (copy) => held.push(copy))
  c.relay.on('checkpoint', () => assert.unreachable('c is not a successor'))
  const copy = { id: 'd1', userId: 'u1', epoch: 2, progress: 40, checkpoint: { page: 4 } }
  assert.is(a.relay.sendCheckpoint(['b', 'gone'], copy), 1, 'one successor has a link')
  await settle()
  assert.equal(held, [copy])

  const [link] = [...c.transport.links]
  link!.send({ type: 'checkpoint', ...copy, checkpoint: { nested: { no: 1 } } })
  link!.send({ type: 'checkpoint', ...copy, progress: 400 })
  await settle()
  assert.equal(held, [copy])
  assert.is(a.log.events('bad-relay-message').length, 2)
})

test.run()
