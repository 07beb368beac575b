import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { BeatOrder } from '../../src/cluster/beat-order.ts'
import type { Beat } from '../../src/cluster/beat.ts'

const beat = (incarnation: number, seq?: number): Beat => ({
  type: 'beat',
  self: { id: 'a', name: 'a', url: 'http://127.0.0.1:1', incarnation, status: 'alive' },
  members: [],
  heard: {},
  ...(seq !== undefined && { seq }),
})

test('a beat not newer than the last of its incarnation is stale: a copy, a late one, a replay', () => {
  const order = new BeatOrder()
  assert.not.ok(order.stale(beat(1, 5)))
  assert.ok(order.stale(beat(1, 5)), 'the same beat twice')
  assert.ok(order.stale(beat(1, 3)), 'an older one, arriving late')
  assert.not.ok(order.stale(beat(1, 6)))
})

test('a new incarnation counts from its own start; an older one and a beat without seq pass', () => {
  const order = new BeatOrder()
  assert.not.ok(order.stale(beat(1, 40)))
  assert.not.ok(order.stale(beat(2, 0)), 'a restart starts counting again')
  assert.ok(order.stale(beat(2, 0)))
  assert.not.ok(order.stale(beat(1, 41)), 'an older incarnation is for the membership to judge')
  assert.not.ok(order.stale(beat(2)), 'an older node sends no seq')
})

test.run()
