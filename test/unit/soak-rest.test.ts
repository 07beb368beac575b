import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { kindOf, restVerdict, type Rest } from '../../scripts/soak-rest.ts'

test("a data directory's files are told apart by what holds them", () => {
  assert.is(kindOf('files/V1StGXR8_Z5jdHi6B-myT.pdf'), 'files')
  assert.is(kindOf('store/db/000123.sst'), 'sst')
  assert.is(kindOf('store/db/000124.blob'), 'blob')
  assert.is(kindOf('store/db/000125.log'), 'wal')
  assert.is(kindOf('store/db/LOG'), 'info-log')
  assert.is(kindOf('store/db/LOG.old.1700000000000000'), 'info-log')
  assert.is(kindOf('store/db/MANIFEST-000005'), 'manifest')
  assert.is(kindOf('store/db/OPTIONS-000007'), 'store/other')
  assert.is(kindOf('identity.json'), 'other')
})

const rest = (bytes: number, made: number): Rest => ({
  bytes,
  made,
  ms: 40_000,
  kinds: new Map([['sst', bytes]]),
})

test('ten times the downloads may leave at most 1.2x the disk at rest', () => {
  assert.ok(restVerdict([rest(10e6, 1000), rest(11.9e6, 10_000)]))
  assert.not.ok(restVerdict([rest(10e6, 1000), rest(12.1e6, 10_000)]))
  assert.not.ok(restVerdict([rest(10e6, 1000), null]), 'never at rest cannot pass')
})

test.run()
