import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Membership } from '../../src/cluster/membership.ts'
import { supersedes, type Member } from '../../src/cluster/member.ts'
import { FailureDetector } from '../../src/cluster/failure-detector.ts'
import { permutations } from '../helpers/records.ts'

const member = (id: string, incarnation: number, status: Member['status'] = 'alive'): Member => ({
  id,
  name: id,
  url: `http://127.0.0.1:400${id.length}`,
  incarnation,
  status,
})

test('precedence: a newer incarnation always wins; at the same one only a worse status', () => {
  assert.ok(supersedes(member('a', 2, 'alive'), member('a', 1, 'dead')))
  assert.not.ok(supersedes(member('a', 1, 'alive'), member('a', 1, 'suspect')))
  assert.ok(supersedes(member('a', 1, 'suspect'), member('a', 1, 'alive')))
  assert.ok(supersedes(member('a', 1, 'dead'), member('a', 1, 'suspect')))
  assert.not.ok(supersedes(member('a', 1, 'dead'), member('a', 1, 'dead')))
  assert.ok(supersedes(member('a', 1, 'alive'), undefined))
})

test('every order of the same reports ends in the same view', () => {
  const reports = [
    member('b', 1),
    member('b', 1, 'suspect'),
    member('b', 2),
    member('b', 2, 'dead'),
    member('c', 5),
    member('c', 5, 'left'),
  ]
  const expected = (() => {
    const m = new Membership(member('a', 1))
    reports.forEach((r) => m.apply(r))
    return m.all()
  })()
  assert.equal(
    expected.map((m) => `${m.id}:${m.incarnation}:${m.status}`),
    ['a:1:alive', 'b:2:dead', 'c:5:left'],
  )
  for (const order of permutations(reports)) {
    const m = new Membership(member('a', 1))
    order.forEach((r) => m.apply(r))
    assert.equal(
      m.all().sort((x, y) => x.id.localeCompare(y.id)),
      expected,
    )
  }
})

test('events: joined, suspect, alive after a refutation, dead, left, joined again on restart', () => {
  const m = new Membership(member('a', 1))
  assert.is(m.apply(member('b', 1))?.type, 'joined')
  assert.is(m.mark('b', 'suspect')?.type, 'suspect')
  assert.is(
    m.apply(member('b', 1))?.type ?? null,
    null,
    'a stale alive does not undo the suspicion',
  )
  assert.is(m.apply(member('b', 2))?.type, 'alive', 'b refuted with a new incarnation')
  assert.is(m.mark('b', 'suspect')?.type, 'suspect')
  assert.is(m.mark('b', 'dead')?.type, 'dead')
  assert.is(m.mark('b', 'suspect'), null, 'the dead are not suspected again')
  const back = m.apply(member('b', 9))
  assert.is(back?.type, 'joined', 'a restart rejoins')
  assert.is(back && 'was' in back ? back.was : null, 'dead', 'said to be a return')
  assert.is(m.apply(member('b', 9, 'left'))?.type, 'left')
  const again = m.apply(member('b', 10))
  assert.is(again && 'was' in again ? again.was : null, 'left')
  assert.not.ok('was' in m.apply(member('c', 1))!, 'a first join is none')
  assert.equal(
    m.live().map((x) => x.id),
    ['a', 'b', 'c'],
  )
})

test('a member told it is suspect or dead refutes by raising its incarnation; one that left does not', () => {
  const m = new Membership(member('a', 5))
  const r = m.apply(member('a', 5, 'suspect'))
  assert.is(r?.type, 'refuted')
  assert.is(m.self.incarnation, 6)
  assert.is(m.self.status, 'alive')
  assert.is(m.apply(member('a', 3, 'dead')), null, 'an old verdict is ignored')
  m.leave()
  assert.is(m.apply(member('a', 6, 'left')), null)
  assert.is(m.self.status, 'left')
})

const timings = { suspectAfterMs: 500, suspicionMs: 300 }

test('a silent member is suspected after suspectAfterMs and dead after the suspicion window', () => {
  const d = new FailureDetector(timings)
  const b = member('b', 1)
  d.heard('b', 0)
  assert.equal(d.verdicts(499, [b]), { suspect: [], dead: [] })
  assert.equal(d.verdicts(500, [b]), { suspect: ['b'], dead: [] })
  const suspect = { ...b, status: 'suspect' as const }
  assert.equal(d.verdicts(799, [suspect]), { suspect: [], dead: [] })
  assert.equal(d.verdicts(800, [suspect]), { suspect: [], dead: ['b'] })
})

test('a member another node heard recently is not suspected', () => {
  const d = new FailureDetector(timings)
  const b = member('b', 1)
  d.heard('b', 0)
  d.heard('b', 450) // relayed: a peer heard b 450 ms in
  assert.equal(d.verdicts(600, [b]).suspect, [])
  assert.equal(d.verdicts(950, [b]).suspect, ['b'])
})

test('a suspect that speaks again is not declared dead, even before it refutes', () => {
  const d = new FailureDetector(timings)
  const suspect = member('b', 1, 'suspect')
  d.heard('b', 0)
  assert.equal(d.verdicts(500, [suspect]).dead, [])
  d.heard('b', 700)
  assert.equal(d.verdicts(900, [suspect]).dead, [])
})

test("this node's own stall is not counted against anyone", () => {
  const d = new FailureDetector(timings)
  const b = member('b', 1)
  d.heard('b', 0)
  // The event loop was blocked for 2 s: nothing could be heard meanwhile.
  d.stalled(2000)
  assert.equal(d.verdicts(2100, [b]).suspect, [])
  assert.equal(d.verdicts(2500, [b]).suspect, ['b'])
})

test.run()
