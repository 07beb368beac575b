import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { HeartbeatEcho } from '../../src/cluster/heartbeat-echo.ts'

test('a member’s echo of this node’s beat gives the round trip on this node’s clock alone', () => {
  // a's clock reads 1000 when its beat leaves; b's clock is an hour ahead.
  const a = new HeartbeatEcho('a')
  const b = new HeartbeatEcho('b')
  b.received('a', 1000, 3_600_000 + 1004) // 4 ms on the wire
  const echo = b.echo(3_600_000 + 1054) // b's next beat, 50 ms later
  assert.equal(echo, { a: [1000, 50] })
  // Back at a 4 ms later: 1058 - 1000 - 50 = 8 ms round trip.
  assert.is(a.roundTrip(echo, 1058), 8)
})

test('no echo of this node, a stale or impossible one: no round trip', () => {
  const a = new HeartbeatEcho('a')
  assert.is(a.roundTrip(undefined, 5000), null)
  assert.is(a.roundTrip({ c: [1000, 5] }, 5000), null)
  assert.is(a.roundTrip({ a: [1000, 5] }, 900), null, 'negative: a clock stepped back')
  assert.is(a.roundTrip({ a: [1000, 5] }, 60_000), null, 'older than an echo lives')
})

test('members gone quiet are no longer echoed', () => {
  const b = new HeartbeatEcho('b')
  b.received('a', 1000, 1000)
  b.received('c', 1000, 2500)
  assert.equal(Object.keys(b.echo(3100)), ['c'])
  assert.equal(Object.keys(b.echo(3100)), ['c'], 'and forgotten')
})

test.run()
