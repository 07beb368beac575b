import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  LogCompaction,
  compactionDue,
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
  return { state, compaction, logger }
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
  })
  await s.compaction.check()
  assert.is(s.state.compactions, 1, 'the fresh log holds only what it carried')
})

test.run()
