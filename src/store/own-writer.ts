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
 * appended, autobase's own acknowledgements included, until a peer has said how much of the
 * writer it holds (or none has within `confirmMs`: nothing to compare with), and a store
 * found behind is told once (`onBehind`): the node then starts over from its peers
 * (start-over.ts), as an operator would.
 */
import type Hypercore from 'hypercore'
import { delay, type Clock, type Timer } from '../clock.ts'
import type { ReplicationPeer } from './replication-state.ts'

/**
 * How long a base's first append waits for a peer to say how much of this node's writer it
 * holds; a restarted node's links are up well within it, and it refuses requests for its first
 * 3 s anyway while it joins its quorum.
 */
export const OWN_WRITER_CONFIRM_MS = 3000
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
  /** The core's length here: a peer's longer length is taken once hypercore has verified it. */
  length: number
  /** Blocks this store holds from 0 without a gap. */
  contiguousLength: number
  /** The length it had when the base opened (from the disk). */
  openLength: number
  fork: number
  peers: PeerLength[]
  /** Appending is known safe already: a writer made here, or one confirmed before. */
  known: boolean
  /** How long the base has been open. */
  openForMs: number
  confirmMs: number
}

export type OwnWriterVerdict =
  /** Safe to append. */
  | { kind: 'ok' }
  /** No peer has said what it holds yet, and the wait for one is not over. */
  | { kind: 'wait' }
  /** A peer says it holds more of the writer (`held`): not verified yet, nothing is appended. */
  | { kind: 'claimed'; held: number }
  /** Hypercore verified a longer writer (`held`) than the blocks this store holds (`have`). */
  | { kind: 'behind'; have: number; held: number }

/** Whether appending to this node's writer is safe now (pure). */
export function ownWriterVerdict(f: OwnWriterFacts): OwnWriterVerdict {
  if (f.contiguousLength < f.length)
    return { kind: 'behind', have: f.contiguousLength, held: f.length }
  // Nothing was appended here since the open, so blocks that came since are the peers': fetched
  // back whole or not, autobase read its writer as it opened, and its appends after such a fetch
  // forked the writer all the same (a trial: "conflict detected").
  if (!f.known && f.length > f.openLength)
    return { kind: 'behind', have: f.openLength, held: f.length }
  // A peer on another fork (a truncation) holds another history: its length says nothing here.
  const told = f.peers.filter((p) => p.synced && p.fork === f.fork)
  const held = Math.max(f.length, ...told.map((p) => p.length))
  // A sync message is the peer's word only; a peer's longer length is believed once hypercore
  // has checked its signature (then `length` above has grown).
  if (held > f.length) return { kind: 'claimed', held }
  if (f.known || told.length > 0 || f.openForMs >= f.confirmMs) return { kind: 'ok' }
  return { kind: 'wait' }
}

/** Nothing more is written to this node's writer here. */
export class OwnWriterBehindError extends Error {
  constructor(have: number, held: number) {
    super(
      `this node's store holds ${have} blocks of its own log writer and its peers ${held}: ` +
        'it lost writes its peers have (a power cut, or a data directory restored from an ' +
        'older copy), and it writes nothing to the log until it has started over from its peers',
    )
    this.name = 'OwnWriterBehindError'
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
  /**
   * The store lacks blocks of its own writer (`have` held here) that peers hold (`held`),
   * verified: told once, and the base appends nothing more.
   */
  onBehind?: (have: number, held: number) => void
}

export class OwnWriter {
  private openedAt: number
  private openLength = 0
  private known: boolean
  /** Found behind: this base appends nothing more. */
  private behind: { have: number; held: number } | null = null
  /**
   * An active session of the writer while it is not known whole: autobase opens its own writer
   * passive, so no peer is asked about it (in a trial its first word came 2 s after a restart,
   * when an acknowledgement had already forked the writer).
   */
  private probe: Hypercore | null = null
  /** Asks for the peers' longer length, so that hypercore verifies it. */
  private update: { end: number; range: { destroy(): void } } | null = null
  /** Looks again while the probe is out: a store behind is told with nothing appending. */
  private looking: Timer | null = null

  constructor(private readonly o: OwnWriterOptions) {
    this.openedAt = o.clock.now()
    this.known = o.known
  }

  /**
   * The base opened (the wait for a peer's word counts from here); `fresh`: a writer never
   * written. Peers are asked at once, so that a store behind is told before anything is written.
   */
  opened(fresh: boolean): void {
    this.openedAt = this.o.clock.now()
    this.openLength = this.o.core()?.length ?? 0
    if (fresh) this.known = true
    this.mayAppend()
  }

  /** Whether an append may go to autobase now. */
  mayAppend(): boolean {
    if (this.behind) return false
    const verdict = this.verdict()
    if (verdict.kind === 'ok') {
      this.endProbe()
      // Confirmed once, it stays so: a peer's later, longer word still stops appends above.
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
    if (verdict.kind === 'claimed') this.verify(verdict.held)
    return false
  }

  /** Resolves once an append may go; fails when it never will, or after `timeoutMs`. */
  async until(timeoutMs: number, closed: () => boolean): Promise<void> {
    const deadline = this.o.clock.now() + timeoutMs
    while (!this.mayAppend()) {
      if (closed()) return
      const core = this.o.core()
      if (this.behind) throw new OwnWriterBehindError(this.behind.have, this.behind.held)
      if (this.o.clock.now() >= deadline) {
        const verdict = this.verdict()
        throw new OwnWriterBehindError(
          core?.contiguousLength ?? 0,
          verdict.kind === 'claimed' ? verdict.held : (core?.length ?? 0),
        )
      }
      await delay(this.o.clock, POLL_MS)
    }
  }

  close(): void {
    this.endProbe()
  }

  private ask(): void {
    this.probe ??= this.o.core()?.session({ active: true }) ?? null
    this.looking ??= this.o.clock.setInterval(() => this.mayAppend(), POLL_MS)
  }

  private endProbe(): void {
    if (this.looking !== null) this.o.clock.clearInterval(this.looking)
    this.looking = null
    this.update?.range.destroy()
    this.update = null
    void this.probe?.close().catch(() => {})
    this.probe = null
  }

  /** Asks for the blocks a peer says it holds: hypercore takes its length once verified. */
  private verify(held: number): void {
    const core = this.o.core()
    if (!core || !this.probe || (this.update && this.update.end >= held)) return
    this.update?.range.destroy()
    const range = this.probe.download({ start: core.contiguousLength, end: held })
    // A request cut short (the base closing) is asked again at the next look.
    range.done().catch(() => {})
    this.update = { end: held, range }
  }

  private verdict(): OwnWriterVerdict {
    const core = this.o.core()
    if (!core) return { kind: 'wait' }
    return ownWriterVerdict({
      length: core.length,
      contiguousLength: core.contiguousLength,
      openLength: this.openLength,
      fork: core.fork,
      peers: peerLengths(core),
      known: this.known,
      openForMs: this.o.clock.now() - this.openedAt,
      confirmMs: this.o.confirmMs ?? OWN_WRITER_CONFIRM_MS,
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
