import { createHash } from 'node:crypto'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { owner, rank } from '../../src/cluster/rendezvous.ts'
import { permutations } from '../helpers/records.ts'

const members = ['node-a', 'node-b', 'node-c', 'node-d']
const users = Array.from({ length: 30_000 }, (_, i) => `user-${i}`)

test('the same answer on every node, whatever order it lists the members in', () => {
  for (const user of users.slice(0, 200)) {
    const expected = rank(user, members)
    for (const order of permutations(members)) {
      assert.equal(rank(user, order), expected)
      assert.is(owner(user, order), expected[0])
    }
  }
})

test('when a member leaves, only the keys it owned move, each to its next choice', () => {
  for (const gone of members) {
    const rest = members.filter((m) => m !== gone)
    for (const user of users.slice(0, 5000)) {
      const before = rank(user, members)
      const after = owner(user, rest)
      if (before[0] !== gone)
        assert.is(after, before[0], `${user} moved though ${gone} did not own it`)
      else assert.is(after, before[1], `${user} went to its successor`)
    }
  }
})

test('a joining member takes keys only for itself', () => {
  const grown = [...members, 'node-e']
  for (const user of users.slice(0, 5000)) {
    const after = owner(user, grown)
    if (after !== 'node-e') assert.is(after, owner(user, members))
  }
})

test('the spread over many users is within a few percent of even', () => {
  for (const set of [members.slice(0, 2), members.slice(0, 3), members]) {
    const counts = new Map<string, number>()
    for (const user of users) {
      const o = owner(user, set)!
      counts.set(o, (counts.get(o) ?? 0) + 1)
    }
    const even = users.length / set.length
    for (const [m, n] of counts)
      assert.ok(Math.abs(n - even) / even < 0.03, `${m} has ${n}, even is ${even}`)
  }
})

test('the ranking is SHA-256 of the key and member, as every version of a node computes it, cached or not', () => {
  const members = Array.from({ length: 7 }, (_, i) => `node-${i}`)
  const w = (key: string, m: string) =>
    createHash('sha256').update(key).update('\0').update(m).digest().readBigUInt64BE(0)
  for (const key of ['user-1', 'ünïcode-user', '']) {
    const expected = [...members].sort((a, b) => (w(key, a) > w(key, b) ? -1 : 1))
    assert.equal(rank(key, members), expected)
    assert.equal(rank(key, members), expected, 'again, from the cache')
    assert.is(owner(key, members), expected[0])
  }
})

test('no members, no owner', () => {
  assert.is(owner('u', []), null)
  assert.equal(rank('u', []), [])
})

test.run()
