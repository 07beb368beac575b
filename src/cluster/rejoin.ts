/**
 * When a restarted node may act: after a restart a node does not know what happened while it
 * was away. Its own downloads may have been taken over; the owners of others' downloads may be
 * on their way back. Acting at once makes the same download twice (seen: a whole cluster
 * killed and restarted made every download two or three times). So a node that knew a
 * cluster before waits until it sees a majority of the members it knew alive and has caught
 * up with their log, or until `maxWaitMs` has passed (then it acts alone, as it must if the
 * others are gone for good). Only then does it resume its own downloads, and only `graceMs`
 * after that does it presume an owner it has not heard of since the restart gone.
 *
 * The rule is pure over what it is given (members and sync as functions, time as a clock);
 * `watchRejoin` tells the log and the downloads when it is met.
 */
import type { Clock } from '../clock.ts'
import type { Logger } from '../logger.ts'

export interface RejoinOptions {
  selfId: string
  /** Members this node knew before it started (itself included); empty for a new node. */
  knownBefore: ReadonlySet<string>
  /** Ids of the members alive (or suspect) in this node's view now, itself included. */
  live(): Iterable<string>
  /** Whether this node's log holds what these members' logs held when first heard. */
  synced(memberIds: string[]): boolean
  clock: Clock
  /** The longest a restarted node waits for its cluster before it acts alone. */
  maxWaitMs: number
  /** How long an owner not heard of since the restart may still take to come back. */
  graceMs: number
}

export type RejoinState =
  | { ready: true; since: number; alone: boolean }
  | { ready: false; known: number; alive: number; needed: number; synced: boolean }

export class Rejoin {
  private readonly startedAt: number
  private readyAt: number | null = null
  private alone = false

  constructor(private readonly o: RejoinOptions) {
    this.startedAt = o.clock.now()
    // A new node, or one that only ever knew itself, has nothing to wait for.
    const others = [...o.knownBefore].filter((id) => id !== o.selfId)
    if (others.length === 0) this.readyAt = this.startedAt
  }

  /** Where the wait stands; once ready, ready for good. */
  state(): RejoinState {
    const now = this.o.clock.now()
    if (this.readyAt !== null) return { ready: true, since: this.readyAt, alone: this.alone }
    const known = this.o.knownBefore
    const back = [...this.o.live()].filter((id) => known.has(id) || id === this.o.selfId)
    const alive = new Set([...back, this.o.selfId]).size
    const needed = Math.floor(known.size / 2) + 1
    const peers = back.filter((id) => id !== this.o.selfId)
    const synced = this.o.synced(peers)
    if (alive >= needed && synced) {
      this.readyAt = now
    } else if (now - this.startedAt >= this.o.maxWaitMs) {
      this.readyAt = now
      this.alone = true
    } else {
      return { ready: false, known: known.size, alive, needed, synced }
    }
    return { ready: true, since: this.readyAt, alone: this.alone }
  }

  /** May this node run work: its own downloads, and takeovers? */
  ready(): boolean {
    return this.state().ready
  }

  /** An owner not heard of since this node started: may it be presumed gone now? */
  unheardOwnerGone(): boolean {
    const s = this.state()
    return s.ready && this.o.clock.now() - s.since >= this.o.graceMs
  }
}

/**
 * Says, once, that a restarted node waits for its cluster before it runs anything, and when it
 * stops waiting; then lets the downloads start at once rather than at the next sweep.
 */
/** A restart that waits this long for its cluster is worth a log line. */
const TELL_WAITING_AFTER_MS = 2000

export function watchRejoin(
  rejoin: Rejoin,
  clock: Clock,
  log: Logger,
  onReady: () => void,
): () => void {
  let told = false
  const started = clock.now()
  const check = () => {
    const state = rejoin.state()
    if (!state.ready) {
      // A routine restart finds its cluster within moments: say so only if it takes a while.
      if (!told && clock.now() - started >= TELL_WAITING_AFTER_MS) {
        told = true
        log.warn('waiting-for-cluster', {
          // A majority may be back while this node still reads what their log holds.
          message:
            state.alive >= state.needed
              ? 'restarted: its downloads wait until it has caught up with its cluster’s log'
              : 'restarted: its downloads wait until a majority of its cluster is back',
          known: state.known,
          alive: state.alive,
          needed: state.needed,
          synced: state.synced,
        })
      }
      return
    }
    clock.clearInterval(timer)
    if (told)
      log.info('cluster-back', {
        message: state.alone ? 'waited long enough: acting alone' : 'a majority is back',
      })
    onReady()
  }
  const timer = clock.setInterval(check, 250)
  check()
  return () => clock.clearInterval(timer)
}
