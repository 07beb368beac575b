import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  describeError,
  healthProblems,
  healthWarnings,
  type HealthSignals,
} from '../../src/health.ts'

const MB = 1024 * 1024
const fine: HealthSignals = {
  readStalledMs: 0,
  writeError: null,
  disk: { low: false, free: 900 * MB, reserve: 64 * MB },
  dataDir: '/data/n1',
}

test('a node that can read, write and store has no problem', () => {
  assert.equal(healthProblems(fine), [])
  assert.equal(healthProblems({ ...fine, readStalledMs: 4999 }), [], 'a short wait is normal')
})

test('each problem is named with what to look at', () => {
  const problems = healthProblems({
    readStalledMs: 7200,
    writeError: { message: 'Batch was not applied', at: 1 },
    disk: { low: true, free: 12 * MB, reserve: 64 * MB },
    dataDir: '/data/n1',
  })
  assert.is(problems.length, 3)
  assert.match(problems[0]!, /^disk nearly full: 12 MB free in \/data\/n1, under the 64 MB reserve/)
  assert.is(problems[1], 'writes to the record log fail: Batch was not applied')
  assert.is(problems[2], 'reading the record log has waited 7 s for a block')
})

test('a write to the log under way for long is a problem; a slow one is not', () => {
  assert.equal(healthProblems({ ...fine, writeStalledMs: 14_999 }), [])
  assert.equal(healthProblems({ ...fine, writeStalledMs: 15_000 }), [
    'a write to the record log has been under way for 15 s; its peers write what it sent them',
  ])
})

test('a failed store is a problem, named with the cause RocksDB gave', () => {
  const err = new Error('Batch was not applied', {
    cause: new Error('While appending to file: db/000008.log: No space left on device'),
  })
  assert.is(
    describeError(err),
    'Batch was not applied: While appending to file: db/000008.log: No space left on device',
  )
  const [problem] = healthProblems({ ...fine, storeFailure: err })
  assert.match(
    problem!,
    /^the store failed \(Batch was not applied: .*No space left on device\); the node restarts itself/,
  )
  const aggregate = new AggregateError([undefined, new Error('IO error')], 'Batch was not applied')
  assert.is(describeError(aggregate), 'Batch was not applied: IO error')
})

test('a node that cannot move to its cluster’s log is a problem once it has failed for 5 s', () => {
  const adopt = { key: 'ab'.repeat(32), message: 'STORAGE_EMPTY: No Hypercore is stored here' }
  assert.equal(healthProblems({ ...fine, adopt: { ...adopt, forMs: 4999 } }), [], 'tried again')
  assert.equal(healthProblems({ ...fine, adopt: { ...adopt, forMs: 12_400 } }), [
    "cannot move to its cluster's log (abababababab) for 12 s: STORAGE_EMPTY: No Hypercore is stored here; what it writes does not reach its cluster",
  ])
})

test('a quorum with no member to spare is a warning, not a problem; one with a member to spare, or alone, is nothing', () => {
  const at = (reachable: number, voters: number, needed: number) =>
    healthWarnings({
      skewedClocks: [],
      quorum: { ok: reachable >= needed, reachable, voters, needed },
    })
  assert.equal(at(3, 3, 2), [])
  assert.equal(at(1, 1, 1), [], 'a node alone has nobody to lose')
  assert.equal(at(2, 3, 2), [
    "no member to spare: this node reaches 2 of the cluster's 3 members and needs 2 (--quorum); one more out of reach and it is cut off, and stops its downloads",
  ])
  assert.equal(at(1, 3, 2), [], 'cut off already: a problem, said by healthProblems')
})

test('an island is a warning naming the bootstrap that answers', () => {
  assert.equal(healthWarnings({ skewedClocks: [], alone: null }), [])
  assert.equal(healthWarnings({ skewedClocks: [], alone: { silent: ['10.0.0.1:14000'] } }), [
    'alone: none of its --bootstrap (10.0.0.1:14000) answers, and it has met no member since it started; it serves its users by itself until it meets its cluster. Check the addresses, that those nodes are up, and that UDP to their DHT ports is open',
  ])
  assert.equal(healthWarnings({ skewedClocks: [], alone: { answering: ['10.0.0.1:14000'] } }), [
    'alone: the DHT of its --bootstrap (10.0.0.1:14000) answers, yet this node has met no member there since it started; it serves its users by itself, apart from that cluster. Most likely its secret is not theirs (or UDP between other ports is blocked, which the links need)',
  ])
})

test.run()
