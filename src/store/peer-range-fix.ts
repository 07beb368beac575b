/**
 * A fix for hypercore (11.37): a peer that clears blocks makes the others forget it holds
 * the blocks after them.
 *
 * A peer's blocks are known here two ways: a contiguous length (it holds every block below)
 * and a bitfield of the blocks above. A writer that has never cleared anything announces its
 * appends as a contiguous length. When it then clears a range (a purged file), the others
 * lower that length to the range's start and clear the range's bits, but never set the bits
 * of the blocks between the range's end and the old length: the writer still holds them, and
 * nobody here knows it any more. Hypercore would learn it again by asking (a `want` for the
 * batch of blocks), but a batch already asked for is not asked again, so a file appended
 * just before its maker's first purge, and not copied yet, cannot be fetched from its maker
 * for as long as the connection lasts. Found by the soak: two files made together 25 s
 * after the cluster started (its first purge) that another node could not fetch for 20 s,
 * until they expired. Reproduced by test/integration/peer-range-fix.test.ts.
 *
 * The fix: before hypercore handles a dropped range inside the contiguous length, the
 * blocks after it up to that length are marked as held, as they are. Installed once per
 * process on the class of hypercore's replication peers (not exported: reached through the
 * first peer added). Hypercore is pinned (package.json): check this again on upgrading it.
 */
import Replicator from 'hypercore/lib/replicator.js'
import type { ReplicationPeer } from './replication-state.ts'

let installed = false

/** Installs the fix (once; later calls do nothing). */
export function installPeerRangeFix(): void {
  if (installed) return
  installed = true
  const proto = Replicator.prototype as unknown as { _addPeer(peer: ReplicationPeer): unknown }
  const addPeer = proto._addPeer
  let patched = false
  proto._addPeer = function (peer: ReplicationPeer) {
    if (!patched) {
      patched = true
      patchPeerClass(Object.getPrototypeOf(peer) as ReplicationPeer)
    }
    return addPeer.call(this, peer)
  }
}

function patchPeerClass(peer: ReplicationPeer): void {
  const onrange = peer.onrange
  // A hypercore whose peers look otherwise is not the one this was written against.
  if (typeof onrange !== 'function') return
  peer.onrange = async function (this: ReplicationPeer, m) {
    // Never past the length the peer last said: a drop it skipped sending (a paused peer)
    // would leave the contiguous length stale, and then this would claim too much.
    const contiguous = Math.min(this._remoteContiguousLength, this.remoteLength)
    const after = m.start + m.length
    const kept = m.drop === true && m.start < contiguous && after < contiguous
    if (kept) {
      this.remoteBitfield.setRange(after, contiguous, true)
      this.missingBlocks.setRange(after, contiguous, true)
      this._clearLocalRange(after, contiguous - after) // those held here are not missing
    }
    await onrange.call(this, m)
    // Blocks waiting for a peer that holds them may ask this one now.
    if (kept) this._update()
  }
}
