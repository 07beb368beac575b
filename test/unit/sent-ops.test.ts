import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { SentOps } from '../../src/cluster/sent-ops.ts'
import type { RecordOp } from '../../src/store/record.ts'
import { download } from '../helpers/records.ts'

const put = (userId: string): RecordOp => ({ type: 'put', download: download({ userId }) })

test('the watermark stops at the first write still under way, however many ended after it', () => {
  const s = new SentOps(5000)
  const [a, b, c] = [put('a'), put('b'), put('c')]
  assert.equal(
    [a, b, c].map((op) => s.number(op, 0)),
    [1, 2, 3],
  )
  assert.is(s.report(0), null, 'nothing written yet')
  s.written(b)
  s.written(c)
  assert.is(s.report(0), null, 'a is still being written')
  s.written(a)
  assert.equal(s.report(0), { written: 3, unwritten: [] })
  assert.is(s.report(0), null, 'told once')
})

test('a failed write is named once, and does not hold the watermark back', () => {
  const s = new SentOps(5000)
  const [a, b] = [put('a'), put('b')]
  s.number(a, 0)
  s.number(b, 0)
  s.failed(a)
  s.written(b)
  assert.equal(s.report(0), { written: 2, unwritten: [1] })
  assert.is(s.report(0), null)
})

test('an operation numbered twice (a retry) keeps its number', () => {
  const s = new SentOps(5000)
  const a = put('a')
  assert.is(s.number(a, 0), 1)
  assert.is(s.number(a, 0), 1)
  assert.is(s.number(put('b'), 0), 2)
})

test('a write that has not ended after giveUpMs is given up on, and no longer holds the others', () => {
  const s = new SentOps(5000)
  const [stuck, later] = [put('stuck'), put('later')]
  s.number(stuck, 0)
  s.number(later, 1000)
  s.written(later)
  assert.is(s.report(4999), null)
  assert.equal(s.report(5000), { written: 2, unwritten: [1] })
  s.written(stuck) // it ended after all: peers wrote a copy, which changes nothing
  assert.is(s.report(6000), null)
})

test.run()
