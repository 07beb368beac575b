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

function setup(thresholdOps = 100) {
  const clock = fakeClock()
  const logger = recordingLogger()
  const state = {
    ops: 0,
    records: 0,
    writable: true,
    settled: true,
    leads: true,
    compactions: 0,
    /** A live member (this one or another) writes the log. */
    liveWriter: true,
    moveStep: null as string | null,
    /** The table has read the whole view (a node just opened may not have). */
    readAll: true,
  }
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
    moveStep: () => state.moveStep,
    readAll: () => state.readAll,
    compact: async () => {
      state.compactions++
      state.ops = state.records
      state.writable = state.liveWriter = true
    },
  }
  const compaction = new LogCompaction({
    log,
    records: () => state.records,
    leads: () => state.leads,
    hasLiveWriter: () => state.liveWriter,
    thresholdOps,
    clock,
    logger,
  })
  return { state, compaction, logger, clock }
}

/** The next check compacts, for `reason`, and none comes in the minute after. */
async function compactsOnce(s: ReturnType<typeof setup>, reason: string, after: string) {
  await s.compaction.check()
  assert.is(s.state.compactions, 1)
  assert.is(s.logger.events('log-compact')[0]!.fields.reason, reason)
  await s.clock.tick(60_000)
  await s.compaction.check()
  assert.is(s.state.compactions, 1, after)
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
    // Seeded from a table still reading its view, the new log would lack what is unread.
    ['readAll', false],
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
  await compactsOnce(s, 'idle', 'the fresh log holds only what it carried')
})

test('a log no live member writes is left for one of the leader’s own after 3 s, settled or not', async () => {
  const s = setup()
  s.state.records = s.state.ops = 40 // nothing to drop: no compaction due
  // Its maker died before admitting anyone: not writable here, and never settled (what this
  // node carried to it waits for a writer).
  Object.assign(s.state, { writable: false, liveWriter: false, settled: false })
  await s.compaction.check()
  await s.clock.tick(2_000)
  await s.compaction.check()
  assert.is(s.state.compactions, 0, 'not within 3 s')
  s.state.liveWriter = true // its maker heard again: nothing to do
  await s.clock.tick(2_000)
  await s.compaction.check()
  s.state.liveWriter = false
  await s.compaction.check()
  await s.clock.tick(2_000)
  await s.compaction.check()
  assert.is(s.state.compactions, 0, 'counted from the last time a writer was alive')
  await s.clock.tick(1_000)
  for (const [key, value] of [
    ['leads', false],
    ['moveStep', 'opening a log'],
  ] as const) {
    Object.assign(s.state, { [key]: value })
    await s.compaction.check()
    assert.is(s.state.compactions, 0, `not while ${key} is ${value}`)
    Object.assign(s.state, { leads: true, moveStep: null })
  }
  await compactsOnce(s, 'orphaned', 'its own log, which it writes')
})

test('with the threshold at 0 the log is compacted only when no one can write it', async () => {
  const s = setup(0)
  s.compaction.start()
  s.state.records = 0
  s.state.ops = 1_000_000
  await s.clock.tick(60_000)
  assert.is(s.state.compactions, 0, 'compaction is off')
  Object.assign(s.state, { writable: false, liveWriter: false })
  await s.clock.tick(15_000)
  assert.is(s.state.compactions, 1, 'the check runs, and moves off a log no one writes')
  s.compaction.stop()
})

test.run()
