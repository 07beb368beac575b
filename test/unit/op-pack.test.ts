import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MAX_PACK_OPS, opsOf, packOps } from '../../src/store/op-pack.ts'
import type { RecordOp } from '../../src/store/record.ts'
import { download } from '../helpers/records.ts'

const put = (id: string, params: Record<string, unknown> = {}): RecordOp => ({
  type: 'put',
  download: download({ id, userId: `u-${id}`, params }),
})
const remove = (id: string): RecordOp => ({
  type: 'remove',
  id,
  userId: `u-${id}`,
  at: 1,
  expiresAt: 2,
})

test('one operation stays a plain block, as logs written before packs hold', () => {
  assert.equal(packOps([put('a')]), [put('a')])
  assert.equal(packOps([]), [])
})

test('consecutive operations share a block, in order, and read back the same', () => {
  const ops = [put('a'), remove('b'), put('c')]
  const blocks = packOps(ops)
  assert.is(blocks.length, 1)
  assert.equal(opsOf(JSON.parse(JSON.stringify(blocks[0]))), ops)
})

test('a pack never passes the byte limit; an operation larger than it stands alone', () => {
  const big = put('big', { text: 'x'.repeat(1800) })
  const ops = [...Array.from({ length: 40 }, (_, i) => put(`p${i}`)), big, put('last')]
  const blocks = packOps(ops, 4096)
  for (const b of blocks) {
    const size = JSON.stringify(b).length
    assert.ok(size <= 4096 || b === big, `block of ${size} bytes`)
  }
  assert.ok(blocks.length > 1)
  assert.equal(blocks.flatMap(opsOf), ops, 'nothing lost, nothing reordered')
})

test('reading: what does not parse is dropped alone; a malformed pack holds nothing', () => {
  assert.equal(opsOf({ type: 'ops', ops: [put('a'), { type: 'put' }, 7, remove('b')] }), [
    put('a'),
    remove('b'),
  ])
  assert.equal(opsOf({ type: 'ops', ops: 'nope' }), [])
  assert.equal(
    opsOf({ type: 'ops', ops: Array.from({ length: MAX_PACK_OPS + 1 }, () => remove('x')) }),
    [],
  )
  assert.equal(
    opsOf({ type: 'ops', ops: [{ type: 'ops', ops: [put('nested')] }] }),
    [],
    'no packs in packs',
  )
  assert.equal(opsOf(null), [])
  assert.equal(opsOf('junk'), [])
  assert.equal(opsOf(remove('c')), [remove('c')])
})

test.run()
