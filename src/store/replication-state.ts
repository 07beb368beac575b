/**
 * Hypercore's replication peers as this project reads and mends them: their shape (not in
 * hypercore's types), and what a node knows of a core's peers, for the line that says a block
 * did not come (file-store.ts; the fix that reads them is peer-range-fix.ts).
 */
import type Hypercore from 'hypercore'
import type { Fields } from '../logger.ts'

/** What this project touches of a peer of hypercore's replicator (lib/replicator.js). */
export interface ReplicationPeer {
  remotePublicKey?: Buffer
  /** The peer has said anything of the core yet (its first sync message). */
  remoteSynced: boolean
  /** The length the peer last said its core has. */
  remoteLength: number
  /** The fork (truncation count) of the peer's copy. */
  remoteFork: number
  /** It holds every block below this, as far as this node knows (a getter over the field). */
  remoteContiguousLength: number
  _remoteContiguousLength: number
  /** Blocks above the contiguous length it is known to hold, and those of them missing here. */
  remoteBitfield: RemoteBitfield
  missingBlocks: RemoteBitfield
  _remoteHasBlock(index: number): boolean
  _clearLocalRange(start: number, length: number): void
  _update(): void
  onrange(m: { drop: boolean; start: number; length: number }): Promise<void>
  inflight: number
  paused: boolean
}

interface RemoteBitfield {
  setRange(start: number, end: number, value: boolean): void
}

/**
 * What this node knows of a core's peers, for the line that says a block did not come: how
 * long each says the core is, and whether it is believed to hold the block.
 */
export function replicationOf(core: Hypercore, index: number): Fields {
  const peer = (p: ReplicationPeer) => {
    // Hypercore's internals, read for a log line: one that has changed shape must not turn
    // a 503 into a failed request.
    try {
      return (
        `${p.remotePublicKey?.toString('hex').slice(0, 8)}:` +
        `length=${p.remoteLength},contiguous=${p.remoteContiguousLength},` +
        `has=${p._remoteHasBlock(index)},inflight=${p.inflight},paused=${p.paused}`
      )
    } catch (err) {
      return `(unreadable: ${(err as Error).message})`
    }
  }
  return {
    core: core.key?.toString('hex').slice(0, 12),
    block: index,
    length: core.length,
    contiguous: core.contiguousLength,
    peers: ((core.peers ?? []) as ReplicationPeer[]).map(peer).join(' '),
  }
}
