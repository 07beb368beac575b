import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ClusterTime, SLEW_RATE } from '../../src/cluster/cluster-time.ts'
import { SkewAlarm, describeSkew } from '../../src/cluster/clock-skew.ts'
import { healthWarnings } from '../../src/health.ts'

const HOUR = 3_600_000

/** A local clock the test sets by hand. */
function localClock(start = 1_700_000_000_000) {
  let now = start
  return { now: () => now, set: (t: number) => (now = t), add: (ms: number) => (now += ms) }
}

const REAL = 1_700_000_000_000

/** A node an hour ahead that has heard two members with right clocks. */
function aheadOfTwo() {
  const local = localClock(REAL + HOUR)
  const time = new ClusterTime(local)
  time.observe('a', REAL)
  time.observe('b', REAL)
  return { local, time }
}

test('alone, cluster time is the own clock, and nothing has been compared', () => {
  const local = localClock()
  const time = new ClusterTime(local)
  assert.is(time.now(), local.now())
  assert.is(time.aheadMs, 0)
  assert.is(time.compared, false)
})

test('a node an hour ahead of two others takes their time; they keep theirs', () => {
  const real = REAL
  const { time: skewed } = aheadOfTwo()
  assert.is(skewed.compared, true)
  assert.is(skewed.now(), real)
  assert.is(skewed.aheadMs, HOUR)

  const right = localClock(real)
  const honest = new ClusterTime(right)
  honest.observe('b', real)
  honest.observe('skewed', real + HOUR)
  assert.is(honest.now(), real, 'a minority cannot move it, ahead...')
  const behind = new ClusterTime(right)
  behind.observe('b', real)
  behind.observe('late', real - HOUR)
  assert.is(behind.now(), real, '...or behind')
})

test('two members: both take the slower clock, so records live longer rather than vanish early', () => {
  const real = 1_700_000_000_000
  const slow = new ClusterTime(localClock(real))
  slow.observe('fast', real + HOUR)
  const fast = new ClusterTime(localClock(real + HOUR))
  fast.observe('slow', real)
  assert.is(slow.now(), real)
  assert.is(fast.now(), real)
})

test("the highest recent sample wins: a beat's delay reads low, never high", () => {
  const local = localClock(1_000_000)
  const time = new ClusterTime(local)
  const peerOffset = 5000
  // Beats sent at the peer's now, received 2, 40 and 7 ms later.
  for (const delayMs of [2, 40, 7]) {
    const sentAt = local.now() + peerOffset
    local.add(delayMs)
    time.observe('peer', sentAt)
    local.add(100 - delayMs)
  }
  const [, peer] = time.skews('me')
  // Median of {0, ~5000} with two clocks is the lower: the own clock; the peer's estimate is
  // its offset less the shortest delay.
  assert.is(peer!.aheadMs, peerOffset - 2)
  assert.is(time.now(), local.now())
})

test('a member that leaves stops counting, but cluster time slews there and never jumps', () => {
  const real = REAL
  const { local, time } = aheadOfTwo()
  assert.is(time.now(), real, 'the first comparison steps')
  time.observe('c', Number.NaN)
  assert.is(time.skews('me').length, 3, 'a clock that is not a number is ignored')
  time.forget('a')
  time.forget('b')
  assert.is(time.aheadMs, 0, 'alone: its own clock is the median')
  local.add(1000)
  assert.is(time.now(), real + 1000 + 1000 * SLEW_RATE, 'but it moves there at the slew rate')
  local.add(HOUR * 20)
  assert.is(time.now(), local.now(), 'and gets there')
})

test('a member that dies keeps counting: its clock goes on ticking', () => {
  // Two members, the right one dies: the one an hour ahead keeps the right time.
  const real = 1_700_000_000_000
  const local = localClock(real + HOUR)
  const time = new ClusterTime(local)
  time.observe('right', real)
  local.add(60_000) // nothing is said about 'right' any more: it is dead, not forgotten
  assert.is(time.now(), real + 60_000)
})

test('a member joining moves cluster time towards the new median slowly, so no record expires at once', () => {
  // Two members, one an hour behind: both run on the slower clock. A third, right, joins.
  const real = 1_700_000_000_000
  const local = localClock(real)
  const time = new ClusterTime(local)
  time.observe('slow', real - HOUR)
  assert.is(time.now(), real - HOUR)
  time.observe('new', real)
  assert.is(time.aheadMs, 0, 'the median is now the right clock')
  local.add(10_000)
  const moved = time.now() - (real - HOUR)
  assert.is(moved, 10_000 + 10_000 * SLEW_RATE, 'only a tenth faster than real time')
})

test('cluster time never moves back, even when the median does', () => {
  const real = 1_700_000_000_000
  const local = localClock(real)
  const time = new ClusterTime(local)
  time.observe('a', real)
  const before = time.now()
  time.observe('b', real - HOUR)
  time.observe('c', real - HOUR)
  local.add(100)
  assert.ok(time.now() >= before)
  assert.is(time.now(), real + 100 - 100 * SLEW_RATE)
})

test('the alarm: the skewed node and each member once past the tolerance, again after repeatMs, then resolved', () => {
  const alarm = new SkewAlarm({ selfId: 'me', toleranceMs: 1000, repeatMs: 60_000 })
  assert.equal(
    alarm.check(
      [
        { id: 'me', aheadMs: 900 },
        { id: 'b', aheadMs: -900 },
      ],
      0,
    ),
    [],
    'within tolerance: nothing to say',
  )
  const off = [
    { id: 'me', aheadMs: HOUR },
    { id: 'b', aheadMs: 0 },
    { id: 'c', aheadMs: -2000 },
  ]
  assert.equal(alarm.check(off, 1000), [
    { type: 'self-skewed', aheadMs: HOUR },
    { type: 'member-skewed', id: 'c', aheadMs: -2000 },
  ])
  assert.equal(alarm.check(off, 30_000), [], 'not every tick')
  assert.equal(alarm.skewed().sort(), ['c', 'me'])
  assert.is(alarm.check(off, 61_000).length, 2, 'again a minute later')
  assert.equal(alarm.check([{ id: 'me', aheadMs: 10 }], 62_000), [{ type: 'self-resolved' }])
  assert.equal(alarm.skewed(), [])
})

test('warnings in words, for /healthz', () => {
  assert.is(describeSkew(3_600_000), '3600.0 s ahead of')
  assert.is(describeSkew(-2500), '2.5 s behind')
  const [self, other] = healthWarnings({
    skewedClocks: [
      { name: 'n3', aheadMs: HOUR, self: true },
      { name: 'n2', aheadMs: -1500, self: false },
    ],
  })
  assert.match(self!, /this node's clock is 3600\.0 s ahead of the cluster's.*NTP/)
  assert.is(other, "n2's clock is 1.5 s behind the cluster's")
})

test.run()
