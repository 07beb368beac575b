import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { SentOps } from '../../src/cluster/sent-ops.ts'
import type { RecordOp } from '../../src/store/record.ts'
import { download } from '../helpers/records.ts'

const put = (userId: string): RecordOp => ({ type: 'put', download: download({ userId }) })

test('the watermark stops at the first write still under way, however many ended after it', () => {
  const s = new SentOps()
  const [a, b, c] = [put('a'), put('b'), put('c')]
  assert.equal(
    [a, b, c].map((op) => s.number(op)),
    [1, 2, 3],
  )
  assert.is(s.report(), null, 'nothing written yet')
  s.written(b)
  s.written(c)
  assert.is(s.report(), null, 'a is still being written')
  s.written(a)
  assert.equal(s.report(), { written: 3, unwritten: [] })
  assert.is(s.report(), null, 'told once')
})

test('a failed write is named once, and does not hold the watermark back', () => {
  const s = new SentOps()
  const [a, b] = [put('a'), put('b')]
  s.number(a)
  s.number(b)
  s.failed(a)
  s.written(b)
  assert.equal(s.report(), { written: 2, unwritten: [1] })
  assert.is(s.report(), null)
})

test('an operation numbered twice (a retry) keeps its number', () => {
  const s = new SentOps()
  const a = put('a')
  assert.is(s.number(a), 1)
  assert.is(s.number(a), 1)
  assert.is(s.number(put('b')), 2)
})

test.run()
