/**
 * Saying so when clocks disagree. Cluster time (cluster-time.ts) keeps records right whatever
 * a minority's clocks say, but a wrong clock is still a fault the operator must fix: past the
 * tolerance, the node whose clock is off says so as an error, every other node names it in a
 * warning, and both repeat every `repeatMs` while it lasts; the node says when it is over.
 *
 * `SkewAlarm` is pure over the skews it is shown and the time it is told; `SkewReport` feeds it
 * cluster time's skews on every tick of cluster.ts and says what it finds in the log.
 */
import type { Logger } from '../logger.ts'
import type { ClusterTime, MemberSkew } from './cluster-time.ts'

export interface SkewAlarmOptions {
  selfId: string
  toleranceMs: number
  /** How often a skew that lasts is said again. @default 60000 */
  repeatMs?: number
}

export type SkewFinding =
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
  check(skews: MemberSkew[], now: number): SkewFinding[] {
    const out: SkewFinding[] = []
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

export interface SkewedClock {
  name: string
  aheadMs: number
  /** This node's own clock. */
  self: boolean
}

export interface SkewReportOptions {
  alarm: SkewAlarmOptions
  time: Pick<ClusterTime, 'skews' | 'aheadMs'>
  nameOf: (id: string) => string | undefined
  /** Only live members' clocks count. */
  isLive: (id: string) => boolean
  log: Logger
}

/** Says in the log what the alarm finds among the live members' clocks. */
export class SkewReport {
  private readonly alarm: SkewAlarm

  constructor(private readonly o: SkewReportOptions) {
    this.alarm = new SkewAlarm(o.alarm)
  }

  report(now: number): void {
    const { log, time } = this.o
    for (const r of this.alarm.check(time.skews(this.o.alarm.selfId, this.o.isLive), now)) {
      if (r.type === 'self-skewed') {
        log.error('clock-skew', {
          message: `this machine's clock is ${describeSkew(r.aheadMs)} the cluster's (the median of its members' clocks): records use the cluster's time, but fix this clock (NTP)`,
          aheadMs: Math.round(r.aheadMs),
        })
      } else if (r.type === 'self-resolved') {
        log.info('clock-skew-resolved', { aheadMs: Math.round(time.aheadMs) })
      } else {
        const name = this.o.nameOf(r.id)
        log.warn('member-clock-skew', {
          message: `${name ?? r.id}'s clock is ${describeSkew(r.aheadMs)} the cluster's`,
          member: name,
          aheadMs: Math.round(r.aheadMs),
        })
      }
    }
  }

  /** Live members whose clocks are off past the tolerance, as last checked. */
  skewed(): SkewedClock[] {
    const off = new Set(this.alarm.skewed())
    return this.o.time
      .skews(this.o.alarm.selfId, this.o.isLive)
      .filter((s) => off.has(s.id))
      .map((s) => ({
        name: this.o.nameOf(s.id) ?? s.id,
        aheadMs: Math.round(s.aheadMs),
        self: s.id === this.o.alarm.selfId,
      }))
  }
}
