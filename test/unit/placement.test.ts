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

function placement(
  members: Member[],
  rejoin = { ready: true, unheardGone: true },
  full = new Set<string>(),
) {
  return new Placement({
    self: { id: 'a', name: 'A' },
    members: () => members,
    rejoin: { ready: () => rejoin.ready, unheardOwnerGone: () => rejoin.unheardGone },
    takesWork: (id) => !full.has(id),
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

test('a member whose disk is low takes no new download: the next in the ranking does, unless none takes work', () => {
  const user = userRanked('b', 'c')
  const all = [member('a'), member('b'), member('c')]
  const ready = { ready: true, unheardGone: true }
  assert.is(placement(all, ready, new Set(['b'])).ownerFor(user).id, 'c')
  assert.is(placement(all, ready, new Set(['b', 'c'])).ownerFor(user).id, 'a')
  // None takes work: the first alive, whose refusal says why.
  assert.is(placement(all, ready, new Set(['a', 'b', 'c'])).ownerFor(user).id, 'b')
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

test('a member whose disk is low comes last in line to take a download over, and to hold its checkpoints', () => {
  const user = userRanked('b', 'c', 'a')
  const ready = { ready: true, unheardGone: true }
  const bGone = [member('a'), member('b', 'dead'), member('c')]
  // c is next in the ranking, but low: a takes it over, and c only if a were low too.
  assert.equal(placement(bGone, ready, new Set(['c'])).successorFor(user, 'b'), {
    id: 'a',
    name: 'A',
  })
  assert.is(placement(bGone, ready, new Set(['a', 'c'])).successorFor(user, 'b')!.id, 'c')
  // Seen from the owner b: its checkpoints go to a, then c.
  const fromB = new Placement({
    self: { id: 'b', name: 'B' },
    members: () => [member('a'), member('b'), member('c')],
    rejoin: { ready: () => true, unheardOwnerGone: () => true },
    takesWork: (id) => id !== 'c',
  })
  assert.equal(fromB.successorsOf(user, 2), ['a', 'c'])
  assert.equal(fromB.successorsOf(user, 1), ['a'])
})

test('a file is kept by the next members of its user’s ranking after its maker, no others', () => {
  const all = [member('a'), member('b'), member('c')]
  // Self is a. Ranking b, a, c: a comes first after the maker b.
  const second = userRanked('b', 'a', 'c')
  assert.ok(placement(all).keepsFileCopy(second, 'b', 1))
  assert.not.ok(placement(all).keepsFileCopy(second, 'b', 0), 'no copies asked for')
  // Ranking b, c, a: c keeps the one copy, a only a second.
  const third = userRanked('b', 'c', 'a')
  assert.not.ok(placement(all).keepsFileCopy(third, 'b', 1))
  assert.ok(placement(all).keepsFileCopy(third, 'b', 2))
  // The maker never counts as a copy of its own file.
  assert.not.ok(placement(all).keepsFileCopy(userRanked('a', 'b', 'c'), 'a', 2))
  // A dead member keeps nothing: the next live one in the ranking keeps its copy.
  const cDead = [member('a'), member('b'), member('c', 'dead')]
  assert.ok(placement(cDead).keepsFileCopy(third, 'b', 1))
  // A dead maker is no reason for fewer copies: the first live members keep them.
  assert.ok(placement([member('a'), member('b', 'dead'), member('c')]).keepsFileCopy(third, 'b', 2))
})

test('the live members’ ids come sorted, the same for the same set, without the dead', () => {
  const one = placement([member('c'), member('a'), member('b', 'suspect'), member('d', 'dead')])
  const two = placement([member('b', 'suspect'), member('a'), member('c')])
  assert.equal(one.liveIds(), ['a', 'b', 'c'])
  assert.equal(one.liveIds(), two.liveIds())
})

test.run()
