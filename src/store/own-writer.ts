/**
 * This node's own writer core of a base, checked against what its peers hold of it before
 * anything more is appended to it.
 *
 * Only this node appends to its writer, so its store should always hold the whole of it. It
 * does not when the store lost writes its peers had (a data directory put back from an older
 * image, a power cut before the writes reached the disk). Hypercore then takes the peers'
 * longer length as the core's (it is signed by this node's key) but fetches none of the
 * blocks, and autobase, which reads its own writer from the disk alone, waits for them for
 * good: its next append spins through its update loop without ever giving the event loop a
 * turn (the node answers nothing, not even SIGTERM; an operator trial met it twice). An append
 * made before the peers' longer length arrived writes over blocks they hold: a fork. And the
 * rest of such a store (autobase's system and view cores) is as old: fetching the writer's
 * blocks back and opening the base again let it write, but one restore in ten left its view
 * stuck for good (the copy was made while an indexer was being added). So nothing is
 * appended (ours or autobase's acknowledgements: log-base.ts holds back autobase's
 * `_appendBatch`) until every peer linked has said how much of the writer it holds, half a
 * second after the open at the least (or none has within `confirmMs`: nothing to compare with);
 * and a store found behind (hypercore took a peer's longer length, or blocks of the writer came
 * from a peer, whenever) is told once (`onBehind`): the node then starts over from its peers
 * (start-over.ts), as an operator would.
 */
import type Hypercore from 'hypercore'
import type Autobase from 'autobase'
import { delay, type Clock, type Timer } from '../clock.ts'
import type { ReplicationPeer } from './replication-state.ts'

/**
 * How long a base's first append waits for its peers to say how much of this node's writer they
 * hold, when not every peer has; a restarted node's links are up well within it, and it refuses
 * requests for its first 3 s anyway while it joins its quorum.
 */
export const OWN_WRITER_CONFIRM_MS = 3000
/**
 * The least a restarted node waits after the open even once every peer linked so far has
 * answered: the first to answer may be one that was down while this node wrote (it holds less),
 * and the others' links come up within milliseconds of it.
 */
export const OWN_WRITER_SETTLE_MS = 500
/** How often the writer is looked at while it is not known whole. */
const POLL_MS = 50

/** What a peer said of a core (hypercore's sync message). */
export interface PeerLength {
  /** It has said anything yet. */
  synced: boolean
  length: number
  fork: number
}

export interface OwnWriterFacts {
  /** The base has opened (before it, nothing is known of the writer). */
  opened: boolean
  /** The core's length here: a peer's longer length is taken once hypercore has verified it. */
  length: number
  /** Blocks this store holds from 0 without a gap. */
  contiguousLength: number
  /** The first block of it that came from a peer, if any did: the peer held what this lacked. */
  fetchedFrom: number | null
  /**
   * Hypercore found two signed versions of it (its 'conflict'): this store appended where its
   * peers held other blocks (a node restored alone, that wrote before it met them).
   */
  conflicted: boolean
  fork: number
  peers: PeerLength[]
  /** Appending is known safe already: a writer made here, or one confirmed before. */
  known: boolean
  /** How long the base has been open. */
  openForMs: number
  confirmMs: number
  settleMs: number
}

export type OwnWriterVerdict =
  /** Safe to append. */
  | { kind: 'ok' }
  /** Its peers have not all said what they hold yet, and the wait for them is not over. */
  | { kind: 'wait' }
  /** A peer says it holds more of the writer (`held`): not verified yet, nothing is appended. */
  | { kind: 'claimed'; held: number }
  /** Peers held blocks of it (up to `held`) that this store lacks from `have` on. */
  | { kind: 'behind'; have: number; held: number }

/** Whether appending to this node's writer is safe now (pure). */
export function ownWriterVerdict(f: OwnWriterFacts): OwnWriterVerdict {
  if (!f.opened) return { kind: 'wait' }
  // A peer on another fork (a truncation) holds another history: its length says nothing here.
  const told = f.peers.filter((p) => p.synced && p.fork === f.fork)
  const held = Math.max(f.length, ...told.map((p) => p.length))
  // Hypercore took a peer's longer signed length without its blocks, or blocks came from a
  // peer, or it found two versions: only this node writes its writer, so a peer that held any
  // block this store lacked held writes it lost. Fetched back whole or not, autobase read its
  // writer as it opened, and its appends after such a fetch forked the writer all the same.
  if (f.contiguousLength < f.length || f.fetchedFrom !== null || f.conflicted)
    return { kind: 'behind', have: Math.min(f.contiguousLength, f.fetchedFrom ?? Infinity), held }
  // A sync message is the peer's word only; believed once hypercore has checked its signature.
  if (held > f.length) return { kind: 'claimed', held }
  if (f.known || f.openForMs >= f.confirmMs) return { kind: 'ok' }
  const allTold = told.length > 0 && told.length === f.peers.length
  return allTold && f.openForMs >= f.settleMs ? { kind: 'ok' } : { kind: 'wait' }
}

/** Nothing is written to this node's writer here: found behind, or its peers never said. */
export class OwnWriterError extends Error {
  static behind(have: number, held: number): OwnWriterError {
    return new OwnWriterError(
      `this node's store holds ${have} blocks of its own log writer and its peers ${held}: ` +
        'it lost writes its peers have (a power cut, or a data directory restored from an ' +
        'older copy), and it writes nothing to the log until it has started over from its peers',
    )
  }

  static unconfirmed(have: number, claimed: number | null): OwnWriterError {
    return new OwnWriterError(
      claimed === null
        ? `no peer said how much of this node's log writer it holds (${have} blocks here), so nothing is written to it yet`
        : `a peer says it holds ${claimed} blocks of this node's log writer and this store ${have}, not verified yet: nothing is written to it until it is`,
    )
  }

  private constructor(message: string) {
    super(message)
    this.name = 'OwnWriterError'
  }
}

export interface OwnWriterOptions {
  /** The writer core (autobase's `local`), null before the base is open. */
  core: () => Hypercore | null
  /** Appending is known safe from the start (the base was made here). */
  known: boolean
  clock: Clock
  /** @default OWN_WRITER_CONFIRM_MS */
  confirmMs?: number
  /** @default OWN_WRITER_SETTLE_MS */
  settleMs?: number
  /**
   * The store lacks blocks of its own writer (from `have` on) that peers held (up to `held`):
   * told once, and the base appends nothing more.
   */
  onBehind?: (have: number, held: number) => void
}

export class OwnWriter {
  private openedAt: number | null = null
  private known: boolean
  private closed = false
  /** The first block of the writer that came from a peer (hypercore's 'download'). */
  private fetchedFrom: number | null = null
  private readonly onDownload = (index: number) => {
    this.fetchedFrom = Math.min(this.fetchedFrom ?? index, index)
  }
  private conflicted = false
  /** Told at once: hypercore closes every session of a core in conflict right after. */
  private readonly onConflict = () => {
    this.conflicted = true
    this.mayAppend()
  }
  /** Found behind: this base appends nothing more. */
  private behind: { have: number; held: number } | null = null
  /**
   * An active session of the writer while it is not known whole: autobase opens its own writer
   * passive, so no peer is asked about it (in a trial its first word came 2 s after a restart,
   * when an acknowledgement had already forked the writer).
   */
  private probe: Hypercore | null = null
  /** Looks again while the probe is out: a store behind is told with nothing appending. */
  private looking: Timer | null = null

  constructor(private readonly o: OwnWriterOptions) {
    this.known = o.known
  }

  /**
   * The base opened (the wait for the peers' word counts from here); `fresh`: a writer never
   * written. Peers are asked at once, so that a store behind is told before anything is written.
   */
  opened(fresh: boolean): void {
    this.openedAt = this.o.clock.now()
    if (fresh) this.known = true
    this.o.core()?.on('download', this.onDownload)
    this.o.core()?.on('conflict', this.onConflict)
    this.mayAppend()
  }

  /** Whether an append may go to autobase now. */
  mayAppend(): boolean {
    if (this.behind || this.closed) return false
    const verdict = this.verdict()
    if (verdict.kind === 'ok') {
      this.endProbe()
      // Confirmed once, it stays so: blocks that come from a peer later still stop appends.
      this.known = true
      return true
    }
    if (verdict.kind === 'behind') {
      this.endProbe()
      this.behind = { have: verdict.have, held: verdict.held }
      this.o.onBehind?.(verdict.have, verdict.held)
      return false
    }
    this.ask()
    return false
  }

  /**
   * Resolves true once an append may go, false if the base closed meanwhile; fails when it
   * never will (OwnWriterError), or after `timeoutMs`.
   */
  async until(timeoutMs: number, closed: () => boolean): Promise<boolean> {
    const deadline = this.o.clock.now() + timeoutMs
    for (;;) {
      if (this.closed || closed()) return false
      if (this.mayAppend()) return true
      if (this.behind || this.o.clock.now() >= deadline) throw this.refusal()
      await delay(this.o.clock, POLL_MS)
    }
  }

  /**
   * Every append to this node's writer goes through autobase's `_appendBatch`: ours, after
   * `write` waited for the writer to be whole (log-base.ts), and its acknowledgements
   * (`append(null)` on a timer of its own), each after awaits in which the peers' word may land.
   * Held back there too, where no await follows before autobase's update loop: an
   * acknowledgement dropped, an append refused (written again by log-writer.ts, or by peers).
   */
  holdBack(base: Autobase): void {
    const inner = base as unknown as { _appendBatch(value: unknown, o?: unknown): unknown }
    const appendBatch = inner._appendBatch.bind(base)
    inner._appendBatch = (value, opts) => {
      if (this.mayAppend()) return appendBatch(value, opts)
      if (value === null) return Promise.resolve(base.local.length)
      return Promise.reject(this.refusal())
    }
  }

  /** Why an append may not go now. */
  refusal(): OwnWriterError {
    if (this.behind) return OwnWriterError.behind(this.behind.have, this.behind.held)
    const verdict = this.verdict()
    return OwnWriterError.unconfirmed(
      this.o.core()?.contiguousLength ?? 0,
      verdict.kind === 'claimed' ? verdict.held : null,
    )
  }

  close(): void {
    this.closed = true
    this.o.core()?.off('download', this.onDownload)
    this.o.core()?.off('conflict', this.onConflict)
    this.endProbe()
  }

  private ask(): void {
    this.probe ??= this.o.core()?.session({ active: true }) ?? null
    this.looking ??= this.o.clock.setInterval(() => this.mayAppend(), POLL_MS)
  }

  private endProbe(): void {
    if (this.looking !== null) this.o.clock.clearInterval(this.looking)
    this.looking = null
    void this.probe?.close().catch(() => {})
    this.probe = null
  }

  private verdict(): OwnWriterVerdict {
    const core = this.o.core()
    if (!core || this.openedAt === null) return { kind: 'wait' }
    return ownWriterVerdict({
      opened: true,
      length: core.length,
      contiguousLength: core.contiguousLength,
      fetchedFrom: this.fetchedFrom,
      conflicted: this.conflicted,
      fork: core.fork,
      peers: peerLengths(core),
      known: this.known,
      openForMs: this.o.clock.now() - this.openedAt,
      confirmMs: this.o.confirmMs ?? OWN_WRITER_CONFIRM_MS,
      settleMs: this.o.settleMs ?? OWN_WRITER_SETTLE_MS,
    })
  }
}

/** What each replication peer of a core has said of its length; unreadable peers say nothing. */
function peerLengths(core: Hypercore): PeerLength[] {
  return ((core.peers ?? []) as ReplicationPeer[]).map((p) => ({
    synced: p.remoteSynced === true,
    length: Number(p.remoteLength) || 0,
    fork: Number(p.remoteFork) || 0,
  }))
}
