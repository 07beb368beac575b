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
 * Cluster time must not jump once records are stamped in it: a jump forward would expire live
 * records at once. So a member that dies keeps counting with its last estimate (its clock goes
 * on ticking) until it leaves cleanly, and after the first comparison, which steps, cluster
 * time slews towards a new median at most SLEW_RATE of the time that passes (NTP slews too).
 * It never moves back.
 *
 * Pure over what it is given: the local clock, and observations fed by cluster.ts.
 */
import type { Clock } from '../clock.ts'

/** Samples kept per member: a second of heartbeats at the default 100 ms. */
const SAMPLES = 10

/** After the first comparison, cluster time moves at most this much per ms towards the median. */
export const SLEW_RATE = 0.1

export interface MemberSkew {
  id: string
  /** How far this member's clock is ahead of cluster time (negative: behind). */
  aheadMs: number
}

export class ClusterTime {
  private readonly samples = new Map<string, number[]>()
  /** The offset the median asks for. */
  private target = 0
  /** The offset in use, slewing towards `target`. */
  private offset = 0
  private slewedAt: number
  private last = -Infinity
  private heardAny = false

  constructor(private readonly local: Pick<Clock, 'now'>) {
    this.slewedAt = local.now()
  }

  /** Cluster time now, in milliseconds since the epoch; never less than it said before. */
  now(): number {
    const local = this.local.now()
    const step = Math.max(0, local - this.slewedAt) * SLEW_RATE
    this.slewedAt = local
    this.offset += Math.max(-step, Math.min(step, this.target - this.offset))
    this.last = Math.max(this.last, local + this.offset)
    return this.last
  }

  /** How far this node's own clock is ahead of the cluster's median (negative: behind). */
  get aheadMs(): number {
    return -this.target
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
    this.recompute()
    if (!this.heardAny) {
      // The first comparison steps: nothing could be stamped in cluster time before it.
      this.heardAny = true
      this.now()
      this.offset = this.target
      this.last = -Infinity
    }
  }

  /** A member left cleanly: its clock no longer counts (a dead one's still does). */
  forget(memberId: string): void {
    if (this.samples.delete(memberId)) this.recompute()
  }

  /**
   * The clocks of this node (as `selfId`) and of the members `include` accepts, each against
   * the cluster's median.
   */
  skews(selfId: string, include: (id: string) => boolean = () => true): MemberSkew[] {
    const out: MemberSkew[] = [{ id: selfId, aheadMs: -this.target }]
    for (const [id, list] of this.samples) {
      if (include(id)) out.push({ id, aheadMs: estimate(list) - this.target })
    }
    return out
  }

  private recompute(): void {
    this.now() // the slew so far is owed to the old target
    const offsets = [0, ...[...this.samples.values()].map(estimate)].sort((a, b) => a - b)
    this.target = offsets[Math.floor((offsets.length - 1) / 2)]!
  }
}

const estimate = (samples: number[]): number => Math.max(...samples)
