/**
 * Saying so when clocks disagree. Cluster time (cluster-time.ts) keeps records right whatever
 * a minority's clocks say, but a wrong clock is still a fault the operator must fix: past the
 * tolerance, the node whose clock is off says so as an error, every other node names it in a
 * warning, and both repeat every `repeatMs` while it lasts; the node says when it is over.
 *
 * Pure over the skews it is shown and the time it is told: cluster.ts feeds it on every tick.
 */
import type { MemberSkew } from './cluster-time.ts'

export interface SkewAlarmOptions {
  selfId: string
  toleranceMs: number
  /** How often a skew that lasts is said again. @default 60000 */
  repeatMs?: number
}

export type SkewReport =
  | { type: 'self-skewed'; aheadMs: number }
  | { type: 'self-resolved' }
  | { type: 'member-skewed'; id: string; aheadMs: number }

export class SkewAlarm {
  private readonly toldAt = new Map<string, number>()
  private readonly repeatMs: number

  constructor(private readonly o: SkewAlarmOptions) {
    this.repeatMs = o.repeatMs ?? 60_000
  }

  /** What to say now about these skews (empty most of the time). */
  check(skews: MemberSkew[], now: number): SkewReport[] {
    const out: SkewReport[] = []
    const off = new Set<string>()
    for (const { id, aheadMs } of skews) {
      if (Math.abs(aheadMs) <= this.o.toleranceMs) continue
      off.add(id)
      const told = this.toldAt.get(id)
      if (told !== undefined && now - told < this.repeatMs) continue
      this.toldAt.set(id, now)
      out.push(
        id === this.o.selfId
          ? { type: 'self-skewed', aheadMs }
          : { type: 'member-skewed', id, aheadMs },
      )
    }
    for (const id of this.toldAt.keys()) {
      if (off.has(id)) continue
      this.toldAt.delete(id)
      if (id === this.o.selfId) out.push({ type: 'self-resolved' })
    }
    return out
  }

  /** Members (by id, this node's included) whose clocks are off now, as last checked. */
  skewed(): string[] {
    return [...this.toldAt.keys()]
  }
}

/** "3600.0 s ahead of", "2.5 s behind" */
export function describeSkew(aheadMs: number): string {
  return `${(Math.abs(aheadMs) / 1000).toFixed(1)} s ${aheadMs >= 0 ? 'ahead of' : 'behind'}`
}
