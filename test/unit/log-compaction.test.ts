import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  LogCompaction,
  compactionDue,
  idleCompactionDue,
  type CompactedLog,
} from '../../src/cluster/log-compaction.ts'
import type { LogAdvert } from '../../src/store/log-advert.ts'
import { fakeClock } from '../helpers/clock.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'

test('due once a compaction would drop the threshold, however many records it carries', () => {
  assert.not.ok(compactionDue(9_999, 0, 10_000))
  assert.ok(compactionDue(10_000, 0, 10_000))
  // Thousands of recent dismissals to carry do not put it off for ever, nor bring it early.
  assert.not.ok(compactionDue(13_999, 4_000, 10_000))
  assert.ok(compactionDue(14_000, 4_000, 10_000))
  // A fresh log holds what it carried: it is not due again until as many operations more.
  assert.not.ok(compactionDue(4_000, 4_000, 10_000))
  assert.not.ok(compactionDue(1_000_000, 0, 0), '0 turns it off')
})

test('due at rest once a hundredth of the threshold would be dropped', () => {
  assert.not.ok(idleCompactionDue(4_099, 4_000, 10_000))
  assert.ok(idleCompactionDue(4_100, 4_000, 10_000))
  assert.not.ok(idleCompactionDue(4_000, 4_000, 10_000), 'a fresh log holds only what it carried')
  assert.ok(idleCompactionDue(1, 0, 50), 'at least one operation')
  assert.not.ok(idleCompactionDue(1_000_000, 0, 0), '0 turns it off')
})

function setup() {
  const clock = fakeClock()
  const logger = recordingLogger()
  const state = { ops: 0, records: 0, writable: true, settled: true, leads: true, compactions: 0 }
  const log: CompactedLog = {
    advert: (): LogAdvert => ({
      key: 'a'.repeat(64),
      writers: 3,
      length: Math.ceil(state.ops / 10),
      writer: 'b'.repeat(64),
      writable: state.writable,
      generation: state.compactions,
    }),
    ops: () => state.ops,
    settled: () => state.settled,
    compact: async () => {
      state.compactions++
      state.ops = state.records
    },
  }
  const compaction = new LogCompaction({
    log,
    records: () => state.records,
    leads: () => state.leads,
    thresholdOps: 100,
    clock,
    logger,
  })
  return { state, compaction, logger, clock }
}

test('the leader compacts when due, and only then', async () => {
  const s = setup()
  s.state.records = 500
  s.state.ops = 599
  await s.compaction.check()
  assert.is(s.state.compactions, 0)
  s.state.ops = 600
  for (const [key, value] of [
    ['leads', false],
    ['writable', false],
    ['settled', false],
  ] as const) {
    s.state[key] = value
    await s.compaction.check()
    assert.is(s.state.compactions, 0, `not while ${key} is false`)
    s.state[key] = true
  }
  await s.compaction.check()
  assert.is(s.state.compactions, 1)
  assert.equal(s.logger.events('log-compact')[0]!.fields, {
    key: 'a'.repeat(12),
    length: 600,
    blocks: 60,
    records: 500,
    generation: 1,
    reason: 'threshold',
  })
  await s.compaction.check()
  assert.is(s.state.compactions, 1, 'the fresh log holds only what it carried')
})

test('a log quiet for 30 s is compacted once it would drop a hundredth of the threshold', async () => {
  const s = setup()
  s.state.records = 20
  s.state.ops = 20
  await s.compaction.check()
  await s.clock.tick(60_000)
  await s.compaction.check()
  assert.is(s.state.compactions, 0, 'nothing to drop')

  s.state.ops = 21 // one dismissal written: a hundredth of 100 to drop
  await s.compaction.check()
  await s.clock.tick(29_000)
  await s.compaction.check()
  assert.is(s.state.compactions, 0, 'written to 29 s ago')
  s.state.ops = 22
  await s.clock.tick(5_000)
  await s.compaction.check()
  assert.is(s.state.compactions, 0, 'a write puts it off')
  await s.clock.tick(30_000)
  s.state.leads = false
  await s.compaction.check()
  assert.is(s.state.compactions, 0, 'only the leader starts it')
  s.state.leads = true
  await s.compaction.check()
  assert.is(s.state.compactions, 1)
  assert.is(s.logger.events('log-compact')[0]!.fields.reason, 'idle')

  await s.clock.tick(60_000)
  await s.compaction.check()
  assert.is(s.state.compactions, 1, 'the fresh log holds only what it carried')
})

test.run()
