/**
 * The page's pure modules (public/reconnect.js, public/record.js), run in Node: the
 * reconnection policy with injected randomness and time, and the rule for merging records.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  afterCutOff,
  closed,
  createPolicy,
  everyOneFailed,
  forgetUnanswered,
  nextRetry,
  opened,
  resetBackoff,
  shouldRefreshSession,
  startAttempt,
  withMembers,
  withTicket,
} from '../../public/reconnect.js'
import { readParams } from '../../public/page-params.js'
import { cutOffNotice, errorNotice } from '../../public/server-notice.js'
import {
  followRun,
  mergeRecord,
  normalize,
  NO_RUN,
  ownerGone,
  rerunOf,
  takeoverOf,
} from '../../public/record.js'

const OWN = 'ws://own:4000/ws'
const A = 'ws://a:4001/ws'
const B = 'ws://b:4002/ws'
const C = 'ws://c:4003/ws'

/** Always returns `value`: the injected randomness. */
const always = (value: number) => () => value
/** Just below 1, the largest value Math.random can return. */
const TOP = 1 - Number.EPSILON

type Policy = ReturnType<typeof createPolicy>

/**
 * A policy that knows members A, B and C and is connected (or connecting) to `current`; the
 * page's own address is left out, as when it is one of them under another name.
 */
function connectedTo(current: string): Policy {
  const members = [{ url: 'http://a:4001' }, { url: 'http://b:4002' }, { url: 'http://c:4003' }]
  const policy = withMembers(createPolicy(OWN), members, { keepOwn: false })
  return { ...policy, current }
}

/** `n` retries in a row, returning the policy after them. */
function retried(policy: Policy, n: number): Policy {
  for (let i = 0; i < n; i++) policy = nextRetry(policy, always(0.5)).policy
  return policy
}

/** The policy after an attempt that never opened. */
const refused = (policy: Policy) =>
  closed(policy, { endpoint: policy.current, openedAt: null, closedAt: 0 })

// ------------------------------------------------------------------------------------------
// Backoff

test('the backoff ceiling doubles per attempt from 250 ms and stays at the 5 s cap', () => {
  const highest: number[] = []
  const lowest: number[] = []
  let policy = createPolicy(OWN)
  for (let i = 0; i < 20; i++) {
    highest.push(nextRetry(policy, always(TOP)).delay)
    lowest.push(nextRetry(policy, always(0)).delay)
    policy = nextRetry(policy, always(0.5)).policy
  }
  const ceilings = [250, 500, 1000, 2000, 4000, ...Array(15).fill(5000)]
  assert.equal(highest, ceilings)
  const floors = ceilings.map((c) => c / 2)
  assert.equal(lowest, floors)
})

test('every backoff delay lies between half the ceiling and the ceiling', () => {
  const randoms = [0, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999, TOP]
  let policy = createPolicy(OWN)
  for (let attempt = 0; attempt < 10; attempt++) {
    const ceiling = Math.min(5000, 250 * 2 ** attempt)
    const delays = randoms.map((r) => nextRetry(policy, always(r)).delay)
    for (const delay of delays) {
      assert.ok(
        delay >= ceiling / 2 && delay <= ceiling,
        `attempt ${attempt}: ${delay} ms outside [${ceiling / 2}, ${ceiling}]`,
      )
    }
    // The jitter is real: the random number moves the delay across the range.
    assert.ok(delays.at(-1)! - delays[0]! >= ceiling / 2 - 1, `attempt ${attempt} is jittered`)
    policy = nextRetry(policy, always(0.5)).policy
  }
})

test('a connection open for at least 2 s resets the backoff', () => {
  const grown = retried(connectedTo(A), 4)
  const policy = closed(grown, { endpoint: A, openedAt: 10_000, closedAt: 12_000 })
  assert.is(policy.attempt, 0)
  assert.is(nextRetry(policy, always(TOP)).delay, 250)
})

test('a connection dropped at once keeps the backoff growing', () => {
  const grown = retried(connectedTo(A), 4)
  const brief = closed(grown, { endpoint: A, openedAt: 10_000, closedAt: 11_999 })
  assert.is(brief.attempt, 4)
  assert.is(nextRetry(brief, always(TOP)).delay, 4000)
  const never = closed(grown, { endpoint: A, openedAt: null, closedAt: 50_000 })
  assert.is(never.attempt, 4)
})

test('skipping the wait starts the backoff over', () => {
  const policy = resetBackoff(retried(connectedTo(A), 6))
  assert.is(nextRetry(policy, always(TOP)).delay, 250)
})

// ------------------------------------------------------------------------------------------
// Endpoint choice

test('a working page stays on its endpoint even when other members are known', () => {
  const policy = connectedTo(A)
  for (const r of [0, 0.5, TOP]) assert.is(startAttempt(policy, always(r)).current, A)
  // And after a connection that opened, even one that has since been replaced.
  const reopened = opened(refused(connectedTo(B)))
  assert.is(startAttempt(reopened, always(0)).current, B)
})

test('after a failure the next endpoint is never the one that just failed', () => {
  for (const failed of [A, B, C]) {
    const policy = refused(connectedTo(failed))
    for (let i = 0; i < 100; i++) {
      const next = startAttempt(policy, always(i / 100)).current
      assert.is.not(next, failed)
      assert.ok([A, B, C].includes(next), `${next} is a member`)
    }
  }
})

test('after a failure the next endpoint is spread at random over the others', () => {
  const policy = refused(connectedTo(B))
  assert.is(startAttempt(policy, always(0)).current, A)
  assert.is(startAttempt(policy, always(0.49)).current, A)
  assert.is(startAttempt(policy, always(0.5)).current, C)
  assert.is(startAttempt(policy, always(TOP)).current, C)
})

test('with a single endpoint, the retry goes back to it; with a single member named, to it and the page’s own node in turn', () => {
  const alone = refused(createPolicy(OWN))
  for (const r of [0, 0.5, TOP]) assert.is(startAttempt(alone, always(r)).current, OWN)
  // A cut-off node named one member, which fails: back to that node (its quorum may be back),
  // then the member again.
  const one = refused({
    ...withMembers(createPolicy(OWN), [{ url: 'http://a:4001' }], { keepOwn: false }),
    current: A,
  })
  const back = startAttempt(one, always(0.5))
  assert.is(back.current, OWN)
  assert.is(startAttempt(refused(back), always(0.5)).current, A)
})

test('no server is reachable only once every endpoint failed since the drop, not while one is still to try', () => {
  let policy = opened(connectedTo(A))
  policy = closed(policy, { endpoint: A, openedAt: 0, closedAt: 10_000 })
  assert.not.ok(everyOneFailed(policy), 'its node dropped: the others are still to try')
  const tried: string[] = []
  for (let i = 0; i < 3; i++) {
    policy = startAttempt(policy, always(0))
    tried.push(policy.current)
    assert.not.ok(everyOneFailed(policy), `${i} failed so far`)
    policy = closed(policy, { endpoint: policy.current, openedAt: null, closedAt: 10_100 + i })
  }
  assert.equal(tried.sort(), [A, B, C], 'each tried once')
  assert.ok(everyOneFailed(policy), 'all three failed')
  // One opens: the page is reachable again, and a later drop starts over.
  policy = opened(startAttempt(policy, always(0)))
  assert.not.ok(everyOneFailed(policy))
  // A page whose only server is down says so at its first failure.
  const alone = closed(createPolicy(OWN), { endpoint: OWN, openedAt: null, closedAt: 1 })
  assert.ok(everyOneFailed(alone))
})

test('a page tries every endpoint before one again', () => {
  let policy = connectedTo(A)
  const picks: string[] = []
  for (let i = 0; i < 3; i++) {
    policy = startAttempt(refused(policy), always(0))
    picks.push(policy.current)
  }
  // B, then C rather than A again; then all failed, the page's own node.
  assert.equal(picks, [B, C, OWN])
})

test('cut off for members that are all down, the page goes back to the node that cut it off', () => {
  // Its own node cut it off and named A and B; the page closed that socket itself.
  let policy: Policy = {
    ...withMembers(createPolicy(OWN), [{ url: 'http://a:4001' }, { url: 'http://b:4002' }], {
      keepOwn: false,
    }),
    current: OWN,
  }
  policy = closed(policy, { endpoint: OWN, openedAt: 1, closedAt: 5000 })
  const picks: string[] = []
  for (let i = 0; i < 3; i++) {
    policy = startAttempt(policy, always(0))
    picks.push(policy.current)
    policy = refused(policy)
  }
  assert.equal(picks, [A, B, OWN], 'its own node may have its quorum back')
})

test('cut off again by its own node after every member it named failed, the page stays there; it leaves once it may look again, or its cut-off ended', () => {
  const named = [{ url: 'http://a:4001' }, { url: 'http://b:4002' }]
  let policy = opened(createPolicy(OWN))
  const first = afterCutOff(policy, named)
  assert.ok(first.move, 'to the members it names, which may hold the majority')
  assert.equal(first.policy.endpoints, [A, B, OWN], 'then back to the node in use')
  policy = closed(first.policy, { endpoint: OWN, openedAt: 1, closedAt: 50 })
  // A and B are down: both fail, and the page is back on its own node, which opens.
  for (let i = 0; i < 3; i++) {
    policy = startAttempt(policy, always(0))
    if (policy.current !== OWN) policy = refused(policy)
  }
  assert.is(policy.current, OWN)
  policy = opened(policy)
  const again = afterCutOff(policy, named)
  assert.not.ok(again.move, 'no going round the dead members and back for as long as they are down')
  assert.is(again.policy, policy)
  assert.ok(afterCutOff(forgetUnanswered(policy), named).move, 'once it forgets, it tries them')
  // A member that answers since is a choice again at the next cut-off.
  const cameBack = opened({ ...policy, current: A })
  assert.equal(afterCutOff({ ...cameBack, current: OWN }, named).policy.endpoints, [A, OWN])
})

test('a page that moved to another node before it was cut off there goes back to that node once the members it named fail, not only to its own (dead) one', () => {
  // The page came from OWN, which died; it moved to C; then C was cut off, naming OWN and B.
  let policy = opened({ ...connectedTo(C), own: OWN })
  const cut = afterCutOff(policy, [{ url: 'http://own:4000' }, { url: 'http://b:4002' }])
  assert.ok(cut.move)
  policy = closed(cut.policy, { endpoint: C, openedAt: 1, closedAt: 50 })
  const picks: string[] = []
  for (let i = 0; i < 3; i++) {
    policy = startAttempt(policy, always(0))
    picks.push(policy.current)
    if (policy.current !== C) policy = refused(policy)
  }
  assert.equal(picks, [OWN, B, C], 'both named fail: back to the node that is up')
  policy = opened(policy)
  assert.not.ok(afterCutOff(policy, [{ url: 'http://own:4000' }, { url: 'http://b:4002' }]).move)
})

test('a cut-off naming no member, or only the node in use, keeps the page there', () => {
  const policy = opened(createPolicy(OWN))
  assert.not.ok(afterCutOff(policy, []).move)
  assert.not.ok(afterCutOff(policy, [{ url: 'http://own:4000' }]).move)
  assert.not.ok(afterCutOff(policy, 'nonsense').move)
})

// ------------------------------------------------------------------------------------------
// Session refresh

test('the session cookie is refreshed on every third failure in a row', () => {
  let policy = connectedTo(A)
  const refreshes: boolean[] = []
  for (let i = 0; i < 9; i++) {
    policy = startAttempt(refused(policy), always(0.5))
    refreshes.push(shouldRefreshSession(policy))
  }
  assert.equal(refreshes, [false, false, true, false, false, true, false, false, true])
})

test('a connection that opens ends the failure streak behind the session refresh', () => {
  const twoFailures = refused(refused(connectedTo(A)))
  const afterOpen = refused(opened(twoFailures))
  assert.is(shouldRefreshSession(refused(twoFailures)), true)
  assert.is(shouldRefreshSession(afterOpen), false)
  // A connection that opened and then dropped is not a failure to open.
  const dropped = closed(opened(twoFailures), { endpoint: A, openedAt: 1, closedAt: 2 })
  assert.is(shouldRefreshSession(refused(dropped)), false)
})

// ------------------------------------------------------------------------------------------
// Members

test('a members message with malformed entries keeps only the valid URLs, as sockets', () => {
  const policy = withMembers(createPolicy(OWN), [
    { url: 'http://a:4001' },
    null,
    'http://b:4002',
    { url: 42 },
    { url: 'ftp://c:4003' },
    { name: 'no url' },
    { url: 'javascript:alert(1)' },
    { url: 'https://d.example/' },
    { url: 'http://a:4001' },
  ])
  assert.equal(policy.endpoints, [A, 'wss://d.example/ws', OWN])
})

test('the page’s own address stays among the endpoints (a load balancer), unless a cut-off node names where to go', () => {
  const members = [{ url: 'http://a:4001' }, { url: 'http://b:4002' }]
  assert.equal(withMembers(createPolicy(OWN), members).endpoints, [A, B, OWN])
  const behindBalancer = refused({ ...withMembers(createPolicy(OWN), members), current: A })
  assert.is(startAttempt(behindBalancer, always(TOP)).current, OWN, 'the balancer is a choice')
  assert.equal(withMembers(createPolicy(OWN), members, { keepOwn: false }).endpoints, [A, B])
  assert.equal(withMembers(createPolicy(A), members).endpoints, [A, B], 'once, if a member')
})

test('after three refusals in a row the page’s own node is a choice again, even after a cut-off', () => {
  // A cut-off node named A and B; both refuse (the ticket may have expired meanwhile).
  let policy: Policy = {
    ...withMembers(createPolicy(OWN), [{ url: 'http://a:4001' }, { url: 'http://b:4002' }], {
      keepOwn: false,
    }),
    current: A,
  }
  const picks: string[] = []
  for (let i = 0; i < 4; i++) {
    policy = startAttempt(refused(policy), always(TOP))
    picks.push(policy.current)
  }
  assert.equal(picks.slice(0, 2), [B, OWN], 'the named members first, then its own node')
  assert.ok(
    picks.slice(2).some((p) => p === A || p === B),
    'and the members again',
  )
})

test('a socket or file on another host than the page’s carries the ticket; on its own, not', () => {
  assert.is(withTicket('ws://b:4002/ws', 'a:4001', 'T.1.x'), 'ws://b:4002/ws?ticket=T.1.x')
  assert.is(
    withTicket('http://b:4002/downloads/d1', 'a:4001', 'T.1.x'),
    'http://b:4002/downloads/d1?ticket=T.1.x',
  )
  assert.is(withTicket('ws://a:4001/ws', 'a:4001', 'T.1.x'), 'ws://a:4001/ws')
  assert.is(withTicket('ws://b:4002/ws', 'a:4001', null), 'ws://b:4002/ws', 'none yet')
  assert.is(withTicket('not a url', 'a:4001', 'T'), 'not a url')
})

test('a members message with no valid entry falls back to the page’s own node', () => {
  const known = connectedTo(A)
  assert.equal(withMembers(known, [null, { url: 'nope' }]).endpoints, [OWN])
  assert.equal(withMembers(known, []).endpoints, [OWN])
})

test('a members message without a list leaves the endpoints as they were', () => {
  const known = connectedTo(A)
  for (const members of [undefined, null, 'http://b:4002', { url: 'http://b:4002' }]) {
    assert.equal(withMembers(known, members).endpoints, [A, B, C])
  }
})

// ------------------------------------------------------------------------------------------
// Records

const record = (fields: Record<string, unknown>) => normalize({ id: 'd1', ...fields })!

test('progress never moves back for the same download', () => {
  const current = record({ state: 'processing', progress: 60 })
  const late = record({ state: 'processing', progress: 40, ownerName: 'n2' })
  const merged = mergeRecord(current, late)!
  assert.is(merged.progress, 60)
  assert.is(merged.ownerName, 'n2', 'the rest of the newer copy is taken')
  assert.is(mergeRecord(current, record({ state: 'processing', progress: 75 }))!.progress, 75)
  assert.is(mergeRecord(current, record({ state: 'pending', progress: 0 }))!.progress, 60)
})

test('a running download told as pending by a node that has not heard its worker yet stays processing; a takeover or a retry is told as it is', () => {
  const running = record({ state: 'processing', progress: 31, epoch: 1, attempt: 1 })
  // A page that moved to another node: the log's copy comes first, pending at its checkpoint.
  const logCopy = record({ state: 'pending', progress: 0, epoch: 1, attempt: 1, retryAt: null })
  const merged = mergeRecord(running, logCopy)!
  assert.is(merged.state, 'processing')
  assert.is(merged.progress, 31)
  const takenOver = record({ state: 'pending', progress: 20, epoch: 2, attempt: 1 })
  assert.is(mergeRecord(running, takenOver)!.state, 'pending', 'a new owner: resuming')
  const retry = record({ state: 'pending', progress: 0, epoch: 1, attempt: 2, retryAt: 5000 })
  assert.is(mergeRecord(running, retry)!.state, 'pending', 'a retry waits')
  const done = record({ state: 'error', progress: 31, epoch: 1, attempt: 1, error: 'x' })
  assert.is(mergeRecord(running, done)!.state, 'error')
})

test('a running download’s node is gone once it leaves the live members, pending or processing', () => {
  const live = new Set(['n1', 'n2'])
  // Running, but pending in the log until its first checkpoint there.
  assert.ok(ownerGone(record({ state: 'pending', progress: 30, ownerName: 'n3' }), live))
  assert.ok(ownerGone(record({ state: 'processing', progress: 30, ownerName: 'n3' }), live))
  assert.not.ok(ownerGone(record({ state: 'processing', ownerName: 'n2' }), live))
  assert.not.ok(ownerGone(record({ state: 'ready', ownerName: 'n3' }), live), 'done: nothing runs')
  assert.not.ok(ownerGone(record({ state: 'pending', ownerName: 'n3' }), null), 'members unknown')
  assert.not.ok(ownerGone(null, live))
})

test('a takeover says the progress its new node resumed from, behind the bar the page keeps', () => {
  const shown = record({ state: 'processing', progress: 27, epoch: 1, ownerName: 'n2' })
  const resumed = record({ state: 'processing', progress: 20, epoch: 2, ownerName: 'n1' })
  assert.equal(takeoverOf(shown, resumed), { from: 'n2', to: 'n1', at: 20 })
  // The node holds the bar at 27 for a page that reconnects: what it resumed from comes beside.
  const held = record({ progress: 27, savedProgress: 20, epoch: 2, ownerName: 'n1' })
  assert.equal(takeoverOf(shown, { ...held, state: 'processing' }), {
    from: 'n2',
    to: 'n1',
    at: 20,
  })
  assert.is(mergeRecord(shown, resumed)!.progress, 27, 'the bar does not go back')
  const tick = record({ state: 'processing', progress: 30, epoch: 1, ownerName: 'n2' })
  assert.is(takeoverOf(shown, tick), null, 'the same epoch: no takeover')
  const sameNode = record({ state: 'processing', progress: 20, epoch: 2, ownerName: 'n2' })
  assert.is(takeoverOf(shown, sameNode), null, 'its own node again (after a restart)')
  assert.is(takeoverOf(shown, record({ id: 'd2', epoch: 2, ownerName: 'n1' })), null)
  assert.is(takeoverOf(undefined, resumed), null)
})

test('a run its own node started again behind the bar is told; a stale tick, a takeover, a retry or a tick ahead are not', () => {
  // The bar held at 42 % by n2's last tick, measured at t=1000; the whole cluster restarted.
  const shown = record({ state: 'processing', progress: 42, ownerName: 'n2', progressAt: 1000 })
  const again = record({ state: 'processing', progress: 5, ownerName: 'n2', progressAt: 9000 })
  assert.equal(rerunOf(shown, again, 1000), { from: 'n2', to: 'n2', at: 5, rerun: true })
  // A tick measured before the last one seen: a node's stale copy of the same run.
  const stale = record({ state: 'processing', progress: 30, ownerName: 'n2', progressAt: 800 })
  assert.is(rerunOf(shown, stale, 1000), null)
  // Another node: a takeover, told by takeoverOf.
  assert.is(rerunOf(shown, { ...again, ownerName: 'n1' }, 1000), null)
  // A held value (not measured) or a log copy says nothing of a new run.
  assert.is(
    rerunOf(shown, record({ state: 'processing', progress: 5, ownerName: 'n2' }), 1000),
    null,
  )
  assert.is(rerunOf(shown, { ...again, state: 'pending' }, 1000), null)
  // A retry waiting (pending, with retryAt) says so itself.
  assert.is(rerunOf({ ...shown, state: 'pending' }, again, 1000), null)
  // The same run going on, and another download.
  assert.is(rerunOf(shown, { ...again, progress: 44 }, 1000), null)
  assert.is(rerunOf(shown, { ...again, id: 'd2' }, 1000), null)
  assert.is(rerunOf(undefined, again, -Infinity), null)
})

test('the page follows a download from message to message: a run started again is told once, a takeover after it replaces it, another download starts afresh', () => {
  const tick = (progress: number, progressAt: number, o: Record<string, unknown> = {}) =>
    record({ state: 'processing', progress, progressAt, ownerName: 'n2', epoch: 1, ...o })
  let run = NO_RUN
  let shown: ReturnType<typeof mergeRecord> | undefined = undefined
  const see = (next: ReturnType<typeof record> | null) => {
    run = followRun(run, shown, next)
    shown = mergeRecord(shown, next)
  }
  see(tick(40, 1000))
  see(tick(42, 1200))
  assert.equal(run, { takeover: null, measuredAt: 1200 })
  // The whole cluster restarted: its own node's run from 0 %, told at its first tick, and only then.
  see(tick(3, 9000))
  assert.equal(run.takeover, { from: 'n2', to: 'n2', at: 3, rerun: true })
  see(tick(5, 9200))
  assert.is(run.takeover!.at, 3, 'told once, at its first tick')
  assert.is(run.measuredAt, 9200)
  // A held value (no tick) changes nothing; a takeover by another node replaces the story.
  see(record({ state: 'processing', progress: 42, ownerName: 'n2', epoch: 1 }))
  assert.is(run.measuredAt, 9200)
  see(tick(10, 9800, { ownerName: 'n1', epoch: 2 }))
  assert.equal(run.takeover, { from: 'n2', to: 'n1', at: 10 })
  // Another download, or none: nothing carried over.
  see(tick(1, 500, { id: 'd2' }))
  assert.equal(run, { takeover: null, measuredAt: 500 })
  see(null)
  assert.equal(run, NO_RUN)
})

test('a download seen ready stays ready against a late processing copy', () => {
  const ready = mergeRecord(undefined, record({ state: 'ready', progress: 90, fileUrl: '/f' }))!
  assert.is(ready.progress, 100, 'ready is always 100%')
  for (const state of ['processing', 'pending']) {
    const merged = mergeRecord(ready, record({ state, progress: 95 }))!
    assert.is(merged.state, 'ready')
    assert.is(merged.progress, 100)
    assert.is(merged.fileUrl, '/f')
  }
  // An error is news, not a stale copy.
  assert.is(mergeRecord(ready, record({ state: 'error', error: 'gone' }))!.state, 'error')
})

test('a record with a different id replaces the current one, progress and all', () => {
  const current = record({ state: 'processing', progress: 80 })
  const other = normalize({ id: 'd2', state: 'pending', progress: 0 })
  assert.equal(mergeRecord(current, other), other)
  const ready = mergeRecord(current, normalize({ id: 'd2', state: 'ready', progress: 3 }))!
  assert.is(ready.id, 'd2')
  assert.is(ready.progress, 100)
})

test('no download from the server clears the current one', () => {
  assert.is(mergeRecord(record({ state: 'processing', progress: 10 }), null), null)
})

test('malformed records count as no download', () => {
  for (const d of [undefined, null, 'd1', 42, [], { state: 'ready' }, { id: 7, state: 'ready' }]) {
    assert.is(normalize(d), null, JSON.stringify(d))
  }
})

test('an unknown state reads as pending and progress is clamped to 0–100', () => {
  assert.is(record({ state: 'exploded' }).state, 'pending')
  assert.is(record({ state: 7 }).state, 'pending')
  assert.is(record({ state: 'processing', progress: 140 }).progress, 100)
  assert.is(record({ state: 'processing', progress: -5 }).progress, 0)
  assert.is(record({ state: 'processing', progress: 'lots' }).progress, 0)
  assert.is(record({ state: 'processing', progress: '42.5' }).progress, 42.5)
})

test('a link’s parameters: a JSON object, none, or why they cannot be used', () => {
  assert.equal(readParams('?params=%7B%22month%22%3A%222026-03%22%7D'), {
    params: { month: '2026-03' },
  })
  assert.equal(readParams(''), { params: null })
  assert.equal(readParams('?other=1'), { params: null })
  assert.equal(readParams('?params=%7Blines%3A3'), { problem: 'they are not valid JSON' })
  for (const text of ['5', '[1]', 'null', '%22x%22'])
    assert.match(
      (readParams(`?params=${text}`) as { problem: string }).problem,
      /not a JSON object/,
    )
})

test('a conflict while a live download is shown says another tab started it, not that the user erred', () => {
  const conflict = { type: 'error', code: 'conflict', message: 'You already have a download…' }
  const live = record({ state: 'processing', progress: 30 })
  assert.equal(errorNotice(conflict, live), {
    text: 'This download was already started, from another tab or window: it is the one shown here.',
    tone: 'info',
  })
  // Nothing shown yet, or a finished one: the server's words, as any refusal.
  for (const current of [null, record({ state: 'ready', progress: 100 })])
    assert.equal(errorNotice(conflict, current), {
      text: 'You already have a download…',
      tone: 'error',
    })
  assert.equal(errorNotice({ type: 'error' }, live), {
    text: 'Something went wrong.',
    tone: 'error',
  })
  assert.match(
    cutOffNotice({ message: 'Cut off.' }, true).text,
    /^Cut off\. Moving to another server…$/,
  )
  assert.match(cutOffNotice({}, false).text, /^This server is cut off .* this page stays/)
  // Nothing the user did, and the page waits it out: a warning, not an error.
  assert.is(cutOffNotice({}, false).tone, 'warning')
  assert.is(cutOffNotice({}, true).tone, 'warning')
})

test.run()
