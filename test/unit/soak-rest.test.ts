import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  infoLogCap,
  kindOf,
  MANIFEST_KB_PER_DOWNLOAD,
  restVerdict,
  sweptAtRest,
  type Rest,
} from '../../scripts/soak-rest.ts'

test("a data directory's files are told apart by what holds them", () => {
  assert.is(kindOf('files/V1StGXR8_Z5jdHi6B-myT.pdf'), 'files')
  assert.is(kindOf('store/db/000123.sst'), 'sst')
  assert.is(kindOf('store/db/000124.blob'), 'blob')
  assert.is(kindOf('store/db/000125.log'), 'wal')
  assert.is(kindOf('store/db/LOG'), 'info-log')
  assert.is(kindOf('store/db/LOG.old.1700000000000000'), 'info-log')
  assert.is(kindOf('store/db/MANIFEST-000005'), 'manifest')
  assert.is(kindOf('store/db/OPTIONS-000007'), 'options')
  assert.is(kindOf('store/db/CURRENT'), 'store/other')
  assert.is(kindOf('identity.json'), 'other')
})

const rest = (bytes: number, made: number, infoLog = 0, manifest = 0, options = 0): Rest => ({
  bytes: bytes + infoLog + manifest + options,
  made,
  ms: 40_000,
  kinds: new Map([
    ['sst', bytes],
    ['info-log', infoLog],
    ['manifest', manifest],
    ['options', options],
  ]),
})

test("ten times the downloads may leave at most 1.2x the store's data at rest", () => {
  assert.ok(restVerdict([rest(10e6, 1000), rest(11.9e6, 10_000)]))
  assert.not.ok(restVerdict([rest(10e6, 1000), rest(12.1e6, 10_000)]))
  assert.not.ok(restVerdict([rest(10e6, 1000), null]), 'never at rest cannot pass')
})

test("RocksDB's info logs are judged against their cap, not against the first rest", () => {
  // Trimmed past 1 MB per node: at rest anywhere below that, whatever the downloads.
  assert.ok(restVerdict([rest(0.2e6, 1000, 0.4e6), rest(0.2e6, 10_000, 1.4e6)]))
  assert.not.ok(
    restVerdict([rest(0.2e6, 1000, 0.4e6), rest(0.2e6, 10_000, infoLogCap(3) + 1)]),
    'an info log past its cap is not trimmed',
  )
  assert.not.ok(
    restVerdict([rest(0.2e6, 1000, 2e6), rest(0.3e6, 10_000, 0)]),
    'the data alone still grew 1.5x',
  )
})

test("RocksDB's OPTIONS files are judged against two per node, not against the first rest", () => {
  // A chaos soak: one per node at the first rest, two per restarted node at the last.
  assert.ok(restVerdict([rest(0.21e6, 1660, 0, 0, 37e3), rest(0.21e6, 16_724, 0, 0, 74e3)]))
  assert.not.ok(
    restVerdict([
      rest(0.21e6, 1660, 0, 0, 37e3),
      rest(0.21e6, 16_724, 0, 0, 3 * 2 * 16 * 1024 + 1),
    ]),
    'more than two kept per node',
  )
})

test("RocksDB's manifest is judged by its growth per download, not against the first rest", () => {
  // The last 20-minute soak: 0.1 MB of manifest on 0.2 MB of data made it 1.31x.
  assert.ok(restVerdict([rest(0.2e6, 3126, 0, 10e3), rest(0.2e6, 29_433, 0, 110e3)]))
  const limit = MANIFEST_KB_PER_DOWNLOAD * 1024 * (29_433 - 3126)
  assert.not.ok(
    restVerdict([rest(0.2e6, 3126, 0, 10e3), rest(0.2e6, 29_433, 0, 10e3 + limit + 1024)]),
    'a manifest growing by a flush per download',
  )
  assert.not.ok(
    restVerdict([rest(0.2e6, 3126, 0, 10e3), rest(0.3e6, 29_433, 0, 110e3)]),
    'the data without it still grew 1.5x',
  )
})

const sweep = (closing: number, idleMs: number) =>
  `12:00:00.000 n1 store-swept deleted=0 closing=${closing} kept=18 ms=1 beforeMb=5 afterMb=5 idleMs=${idleMs}`

test('a node is at rest at a quiet sweep with nothing closing, or past the grace with what still is', () => {
  assert.is(sweptAtRest([], 60_000), null, 'no sweep since the cluster was compacted down')
  assert.is(sweptAtRest([sweep(0, 10_000)], 60_000), null, 'a sweep right after a write')
  assert.is(sweptAtRest([sweep(0, 30_000)], 60_000), 0)
  assert.is(sweptAtRest([sweep(2, 30_000)], 60_000), null, 'cores still closing: wait')
  assert.is(sweptAtRest([sweep(2, 30_000), sweep(0, 90_000)], 120_000), 0, 'then they closed')
  // Cores that stay closing for minutes will not close on their own: measured with them.
  assert.is(sweptAtRest([sweep(9, 30_000), sweep(9, 250_000)], 3 * 60_000), 9)
})

test.run()
