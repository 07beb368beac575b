import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type Hypercore from 'hypercore'
import { replicationOf } from '../../src/store/replication-state.ts'

const core = (peers: unknown[]) =>
  ({ key: Buffer.alloc(32, 1), length: 12, contiguousLength: 4, peers }) as unknown as Hypercore

test("each peer's length and whether it holds the block are told", () => {
  const peer = {
    remotePublicKey: Buffer.alloc(32, 0xab),
    remoteLength: 12,
    remoteContiguousLength: 2,
    _remoteHasBlock: (i: number) => i === 8,
    inflight: 1,
    paused: false,
  }
  assert.equal(replicationOf(core([peer]), 8), {
    core: '010101010101',
    block: 8,
    length: 12,
    contiguous: 4,
    peers: 'abababab:length=12,contiguous=2,has=true,inflight=1,paused=false',
  })
})

test('a peer of another shape is said to be unreadable, not thrown', () => {
  const fields = replicationOf(core([{ remoteLength: 3 }]), 8)
  assert.match(String(fields.peers), /^\(unreadable: /)
  assert.is(fields.block, 8)
})

test.run()
