/**
 * The membership state machine: what this node believes about every member, changed only by
 * reports (gossip, its own detector's verdicts) merged with the SWIM precedence rule. Pure:
 * the driver feeds it reports and turns the events it returns into messages and logs.
 */
import { isLiveStatus, supersedes, type Member, type Status } from './member.ts'

export type MembershipEventType = 'joined' | 'suspect' | 'alive' | 'dead' | 'left'

export interface MembershipEvent {
  type: MembershipEventType
  member: Member
  /** A member that joins again: what it was before (dead, or left), so a return reads as one. */
  was?: 'dead' | 'left'
}

export class Membership {
  private readonly members = new Map<string, Member>()
  private me: Member

  constructor(self: Member) {
    this.me = { ...self, status: 'alive' }
  }

  get self(): Member {
    return this.me
  }

  get(id: string): Member | undefined {
    return id === this.me.id ? this.me : this.members.get(id)
  }

  /** Every member this node has heard of, itself included. */
  all(): Member[] {
    return [this.me, ...this.members.values()]
  }

  /** Members currently alive or suspect (not yet declared dead), itself included. */
  live(): Member[] {
    return this.all().filter((m) => isLiveStatus(m.status))
  }

  /**
   * Merges one report. A report that this node is suspect or dead is refuted by raising its own
   * incarnation above it; the caller then gossips the new self. Returns the resulting event.
   */
  apply(report: Member): MembershipEvent | { type: 'refuted'; member: Member } | null {
    if (report.id === this.me.id) {
      // A node on its way out does not argue with reports of its leaving.
      if (this.me.status === 'left') return null
      if (report.status !== 'alive' && report.incarnation >= this.me.incarnation) {
        this.me = { ...this.me, incarnation: report.incarnation + 1, status: 'alive' }
        return { type: 'refuted', member: this.me }
      }
      return null
    }
    const known = this.members.get(report.id)
    if (!supersedes(report, known)) return null
    this.members.set(report.id, report)
    const type = transition(known?.status, report.status)
    if (!type) return null
    const was = known?.status
    return type === 'joined' && (was === 'dead' || was === 'left')
      ? { type, member: report, was }
      : { type, member: report }
  }

  /** This node's own verdict (from its failure detector) about a member it knows. */
  mark(id: string, status: 'suspect' | 'dead'): MembershipEvent | null {
    const known = this.members.get(id)
    if (!known || known.status === status || known.status === 'dead' || known.status === 'left')
      return null
    if (status === 'suspect' && known.status !== 'alive') return null
    const event = this.apply({ ...known, status })
    return event && event.type !== 'refuted' ? event : null
  }

  /** Announces a clean leave: the returned self is what to tell the others. */
  leave(): Member {
    this.me = { ...this.me, status: 'left' }
    return this.me
  }
}

function transition(from: Status | undefined, to: Status): MembershipEventType | null {
  if (from === to) return null
  switch (to) {
    case 'alive':
      return from === 'suspect' ? 'alive' : 'joined'
    case 'suspect':
      return from === undefined || from === 'dead' || from === 'left' ? 'joined' : 'suspect'
    case 'dead':
      return from === undefined ? null : 'dead'
    case 'left':
      return from === undefined ? null : 'left'
  }
}
