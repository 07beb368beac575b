/**
 * Cluster time: the clock that records are written and judged in (created-at ordering, expiry,
 * retention, purge), so that a node whose own clock is wrong neither hides nor purges the
 * others' records nor stamps its own far off theirs.
 *
 * Every heartbeat carries its sender's clock. From those this node estimates each member's
 * offset from its own clock, and takes cluster time to be the lower median of the live
 * members' clocks, its own included. A minority of members skewed by any amount, in either
 * direction, does not move it; with two members (no majority either way) the slower clock
 * wins, the side on which records live a little longer rather than vanish early. Every node
 * computes the same member's clock, so all agree to within the heartbeats' one-way delay.
 *
 * An offset sample is the sender's clock minus ours at receipt: the message's delay makes it
 * read low, never high, so the highest of the last few samples is the best estimate (the
 * minimum-delay filter NTP uses), and a stalled event loop, which delivers beats late, cannot
 * drag the estimate down.
 *
 * Pure over what it is given: the local clock, and observations fed by cluster.ts.
 */
import type { Clock } from '../clock.ts'

/** Samples kept per member: a second of heartbeats at the default 100 ms. */
const SAMPLES = 10

export interface MemberSkew {
  id: string
  /** How far this member's clock is ahead of cluster time (negative: behind). */
  aheadMs: number
}

export class ClusterTime {
  private readonly samples = new Map<string, number[]>()
  private offset = 0
  private heardAny = false

  constructor(private readonly local: Pick<Clock, 'now'>) {}

  /** Cluster time now, in milliseconds since the epoch. */
  now(): number {
    return this.local.now() + this.offset
  }

  /** How far this node's own clock is ahead of cluster time (negative: behind). */
  get aheadMs(): number {
    return -this.offset
  }

  /**
   * Whether this node has compared its clock with another member's. Until then cluster time is
   * just its own clock: good enough to stamp records, not to purge on (repository.ts).
   */
  get compared(): boolean {
    return this.heardAny
  }

  /** A member's heartbeat said its clock read `theirNow` as it left. */
  observe(memberId: string, theirNow: number): void {
    if (!Number.isFinite(theirNow)) return
    const sample = theirNow - this.local.now()
    let list = this.samples.get(memberId)
    if (!list) this.samples.set(memberId, (list = []))
    list.push(sample)
    if (list.length > SAMPLES) list.shift()
    this.heardAny = true
    this.recompute()
  }

  /** A member died or left: its clock no longer counts. */
  forget(memberId: string): void {
    if (this.samples.delete(memberId)) this.recompute()
  }

  /** Each member's clock (this node's included, as `selfId`) against cluster time. */
  skews(selfId: string): MemberSkew[] {
    const out: MemberSkew[] = [{ id: selfId, aheadMs: -this.offset }]
    for (const [id, list] of this.samples) out.push({ id, aheadMs: estimate(list) - this.offset })
    return out
  }

  private recompute(): void {
    const offsets = [0, ...[...this.samples.values()].map(estimate)].sort((a, b) => a - b)
    this.offset = offsets[Math.floor((offsets.length - 1) / 2)]!
  }
}

const estimate = (samples: number[]): number => Math.max(...samples)
