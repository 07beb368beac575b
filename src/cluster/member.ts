/**
 * A cluster member as gossip carries it, and the SWIM precedence rule between two reports of
 * the same member. Pure: no clocks, no sockets.
 */

export const STATUSES = ['alive', 'suspect', 'dead', 'left'] as const
export type Status = (typeof STATUSES)[number]

export interface Member {
  id: string
  name: string
  /** The member's HTTP base URL, e.g. http://127.0.0.1:4001 */
  url: string
  /** Raised by the member itself to refute a suspicion, and on every restart. */
  incarnation: number
  status: Status
}

const SEVERITY: Record<Status, number> = { alive: 0, suspect: 1, dead: 2, left: 3 }

/**
 * True when report `a` replaces report `b` of the same member: a newer incarnation always does;
 * at the same incarnation only a worse status does (alive < suspect < dead < left), so a stale
 * "alive" can never undo a suspicion the member has not refuted itself.
 */
export function supersedes(a: Member, b: Member | undefined): boolean {
  if (!b) return true
  if (a.incarnation !== b.incarnation) return a.incarnation > b.incarnation
  return SEVERITY[a.status] > SEVERITY[b.status]
}

export const isLiveStatus = (s: Status): boolean => s === 'alive' || s === 'suspect'

const ID = /^[A-Za-z0-9_-]{1,64}$/

export function parseMember(v: unknown): Member | null {
  if (typeof v !== 'object' || v === null) return null
  const o = v as Record<string, unknown>
  if (
    typeof o.id !== 'string' ||
    !ID.test(o.id) ||
    typeof o.name !== 'string' ||
    o.name.length > 64 ||
    typeof o.url !== 'string' ||
    !/^https?:\/\/[^\s]{1,200}$/.test(o.url) ||
    typeof o.incarnation !== 'number' ||
    !Number.isSafeInteger(o.incarnation) ||
    typeof o.status !== 'string' ||
    !(STATUSES as readonly string[]).includes(o.status)
  ) {
    return null
  }
  return {
    id: o.id,
    name: o.name,
    url: o.url,
    incarnation: o.incarnation,
    status: o.status as Status,
  }
}
