/**
 * The heartbeat every node sends each link every `heartbeatMs`: its own entry, its whole view
 * of the membership, how long ago it heard each member, and its clock. Parsed and bounded here,
 * so nothing from a peer reaches the membership unchecked.
 */
import { parseMember, type Member } from './member.ts'
import type { Echo } from './heartbeat-echo.ts'

export interface Beat {
  type: 'beat'
  self: Member
  /** The sender's clock as the beat left (cluster-time.ts); absent from older nodes. */
  now?: number
  members: Member[]
  heard: Record<string, number>
  /**
   * For each member whose beat reached the sender lately: that beat's `now` and how long the
   * sender held it. The member gets its own clock back, and from it the round trip.
   */
  echo?: Echo
  /** The job the sender runs (its generator's name): every member should run the same. */
  job?: string
  /**
   * Counts the sender's beats since it started: a beat that arrives after a later one (sent as
   * a datagram, it may; replayed, it would) says nothing new and is dropped.
   */
  seq?: number
  /**
   * When the sender's process started: of two processes on one id (cluster/twin.ts), the later
   * gives it up. Absent from older nodes.
   */
  startedAt?: number
  /**
   * The sender takes no new downloads now (its disk is below its reserve): new ones go to
   * another member (placement.ts). Absent from older nodes, and when it does.
   */
  full?: true
}

/** A beat as received, or null if it is not one. */
export function parseBeat(v: unknown): Beat | null {
  if (typeof v !== 'object' || v === null) return null
  const o = v as Record<string, unknown>
  if (o.type !== 'beat' || !Array.isArray(o.members) || o.members.length > 1000) return null
  const self = parseMember(o.self)
  if (!self) return null
  const members: Member[] = []
  for (const m of o.members) {
    const member = parseMember(m)
    if (member) members.push(member)
  }
  const heard: Record<string, number> = {}
  if (typeof o.heard === 'object' && o.heard !== null) {
    for (const [id, age] of Object.entries(o.heard)) {
      if (typeof age === 'number' && Number.isFinite(age) && age >= 0) heard[id] = age
    }
  }
  const now = typeof o.now === 'number' && Number.isFinite(o.now) ? o.now : undefined
  const echo: Record<string, [number, number]> = {}
  if (typeof o.echo === 'object' && o.echo !== null) {
    for (const [id, pair] of Object.entries(o.echo).slice(0, 1000)) {
      if (!Array.isArray(pair) || pair.length !== 2) continue
      const [sentAt, heldMs] = pair as unknown[]
      if (typeof sentAt === 'number' && Number.isFinite(sentAt) && typeof heldMs === 'number')
        if (Number.isFinite(heldMs) && heldMs >= 0) echo[id] = [sentAt, heldMs]
    }
  }
  const job = typeof o.job === 'string' && o.job.length <= 100 ? o.job : undefined
  const seq = Number.isSafeInteger(o.seq) && (o.seq as number) >= 0 ? (o.seq as number) : undefined
  const startedAt =
    typeof o.startedAt === 'number' && Number.isFinite(o.startedAt) ? o.startedAt : undefined
  return {
    type: 'beat',
    now,
    self,
    members,
    heard,
    echo,
    ...(job !== undefined && { job }),
    ...(seq !== undefined && { seq }),
    ...(startedAt !== undefined && { startedAt }),
    ...(o.full === true && { full: true as const }),
  }
}
