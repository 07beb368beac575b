import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Placement } from '../../src/cluster/placement.ts'
import { rank } from '../../src/cluster/rendezvous.ts'
import type { Member, Status } from '../../src/cluster/member.ts'

const member = (id: string, status: Status = 'alive'): Member => ({
  id,
  name: id.toUpperCase(),
  url: `http://127.0.0.1:1/${id}`,
  incarnation: 1,
  status,
})

function placement(members: Member[], rejoin = { ready: true, unheardGone: true }) {
  return new Placement({
    self: { id: 'a', name: 'A' },
    members: () => members,
    rejoin: { ready: () => rejoin.ready, unheardOwnerGone: () => rejoin.unheardGone },
  })
}

/** A user whose ranking over a, b, c starts with these ids. */
function userRanked(...first: string[]): string {
  for (let i = 0; ; i++) {
    const user = `user-${i}`
    const order = rank(user, ['a', 'b', 'c'])
    if (first.every((id, k) => order[k] === id)) return user
  }
}

test('a new download goes to the first alive member of the user’s ranking', () => {
  const user = userRanked('b', 'c')
  assert.equal(placement([member('a'), member('b'), member('c')]).ownerFor(user), {
    id: 'b',
    name: 'B',
  })
  // A suspected member takes no new work; the next in the ranking does.
  assert.is(placement([member('a'), member('b', 'suspect'), member('c')]).ownerFor(user).id, 'c')
})

test('with nobody else alive, a new download stays on this node', () => {
  assert.is(placement([member('a'), member('b', 'dead')]).ownerFor(userRanked('b')).id, 'a')
})

test('a dead or departed owner is gone; a suspected one is not, yet', () => {
  for (const [status, gone] of [
    ['alive', false],
    ['suspect', false],
    ['dead', true],
    ['left', true],
  ] as const) {
    assert.is(placement([member('a'), member('b', status)]).ownerGone('b'), gone, status)
  }
})

test('an owner not heard of since the restart is gone only when the rejoin says so', () => {
  assert.not.ok(placement([member('a')], { ready: true, unheardGone: false }).ownerGone('zz'))
  assert.ok(placement([member('a')], { ready: true, unheardGone: true }).ownerGone('zz'))
  assert.not.ok(placement([member('a')], { ready: false, unheardGone: false }).mayWork())
})

test('the successor of a gone owner is the first live member of the ranking, suspects included', () => {
  const user = userRanked('b', 'c', 'a')
  const p = placement([member('a'), member('b', 'dead'), member('c', 'suspect')])
  assert.equal(p.successorFor(user, 'b'), { id: 'c', name: 'C' })
  assert.is(placement([member('a'), member('b'), member('c')]).successorFor(user, 'b'), null)
})

test.run()
