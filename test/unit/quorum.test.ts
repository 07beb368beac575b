import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  describeQuorum,
  formatQuorumRule,
  judgeQuorum,
  parseQuorumRule,
  type QuorumRule,
} from '../../src/cluster/quorum.ts'

const MAJORITY: QuorumRule = { kind: 'majority' }
const reachesOnly =
  (...ids: string[]) =>
  (id: string) =>
    ids.includes(id)

test('a strict majority of the voters, this node counted among them', () => {
  const voters = ['b', 'c']
  assert.equal(judgeQuorum(MAJORITY, 'a', voters, reachesOnly('b')), {
    ok: true,
    reachable: 2,
    voters: 3,
    needed: 2,
  })
  assert.is(judgeQuorum(MAJORITY, 'a', voters, reachesOnly()).ok, false, 'one of three')
  assert.is(judgeQuorum(MAJORITY, 'a', ['b', 'c', 'd', 'e'], reachesOnly('b')).ok, false)
  assert.is(judgeQuorum(MAJORITY, 'a', ['b', 'c', 'd', 'e'], reachesOnly('b', 'c')).ok, true)
})

test('half is not a majority: two members each alone, and two of four, both stop', () => {
  assert.is(judgeQuorum(MAJORITY, 'a', ['b'], reachesOnly()).ok, false)
  assert.is(judgeQuorum(MAJORITY, 'b', ['a'], reachesOnly()).ok, false)
  assert.is(judgeQuorum(MAJORITY, 'a', ['b', 'c', 'd'], reachesOnly('b')).ok, false)
})

test('on every split of five, at most one side holds the quorum', () => {
  const all = ['a', 'b', 'c', 'd', 'e']
  for (let mask = 0; mask < 1 << all.length; mask++) {
    const side = all.filter((_, i) => mask & (1 << i))
    const other = all.filter((id) => !side.includes(id))
    const holds = (members: string[]) =>
      members.length > 0 &&
      judgeQuorum(
        MAJORITY,
        members[0]!,
        all.filter((id) => id !== members[0]),
        reachesOnly(...members),
      ).ok
    assert.not.ok(holds(side) && holds(other), `${side} | ${other}`)
  }
})

test('a node alone, knowing nobody, holds its own quorum', () => {
  assert.is(judgeQuorum(MAJORITY, 'a', [], reachesOnly()).ok, true)
  assert.is(judgeQuorum(MAJORITY, 'a', ['a'], reachesOnly()).voters, 1, 'itself counted once')
})

test('a fixed count, and off', () => {
  const count: QuorumRule = { kind: 'count', count: 2 }
  assert.is(judgeQuorum(count, 'a', ['b', 'c', 'd', 'e'], reachesOnly('b')).ok, true)
  assert.is(judgeQuorum(count, 'a', ['b', 'c', 'd', 'e'], reachesOnly()).ok, false)
  assert.is(judgeQuorum({ kind: 'off' }, 'a', ['b', 'c'], reachesOnly()).ok, true)
})

test('the rule is read from the flag, and anything else refused', () => {
  assert.equal(parseQuorumRule('majority'), MAJORITY)
  assert.equal(parseQuorumRule(' OFF '), { kind: 'off' })
  assert.equal(parseQuorumRule('3'), { kind: 'count', count: 3 })
  for (const bad of ['', '0', '-1', '1.5', 'most', '99999']) assert.is(parseQuorumRule(bad), null)
  assert.is(formatQuorumRule({ kind: 'count', count: 3 }), '3')
  assert.is(formatQuorumRule(MAJORITY), 'majority')
})

test('the state in words names what it reaches and what it needs', () => {
  assert.is(
    describeQuorum({ ok: false, reachable: 1, voters: 3, needed: 2 }),
    "this node reaches 1 of the cluster's 3 members and needs 2 (--quorum)",
  )
})

test.run()
