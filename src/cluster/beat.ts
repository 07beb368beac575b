/**
 * The heartbeat every node sends each link every `heartbeatMs`: its own entry, its whole view
 * of the membership, how long ago it heard each member, and its clock. Parsed and bounded here,
 * so nothing from a peer reaches the membership unchecked.
 */
import { parseMember, type Member } from './member.ts'

export interface Beat {
  type: 'beat'
  self: Member
  /** The sender's clock as the beat left (cluster-time.ts); absent from older nodes. */
  now?: number
  members: Member[]
  heard: Record<string, number>
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
  return { type: 'beat', now, self, members, heard }
}
