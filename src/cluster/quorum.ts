/**
 * Whether this node may act for the cluster: run workers, take downloads over, accept new
 * ones. It may while it reaches a quorum of the members that vote (by default a strict
 * majority), so that when the network splits at most one side works and a download never has
 * a worker on each side. Pure: the caller says who votes and whom it reaches now.
 *
 * Who votes (DESIGN.md, Partitions): every member this node has seen alive, itself included,
 * until the member leaves cleanly, or has been dead for `--forget-dead-ms` while this node
 * held a quorum (known-members.ts). A member this node reaches is one it heard *directly*
 * within the suspicion delay: a lease, judged on this node's own clock.
 */

import type { QuorumRule } from '../config.ts'

export type { QuorumRule }

export interface QuorumState {
  ok: boolean
  /** Voting members this node reaches now, itself included. */
  reachable: number
  /** Members that vote, itself included. */
  voters: number
  /** How many it must reach. */
  needed: number
}

export function judgeQuorum(
  rule: QuorumRule,
  selfId: string,
  voters: Iterable<string>,
  reaches: (id: string) => boolean,
): QuorumState {
  const all = new Set(voters).add(selfId)
  let reachable = 0
  for (const id of all) if (id === selfId || reaches(id)) reachable++
  const needed =
    rule.kind === 'majority' ? Math.floor(all.size / 2) + 1 : rule.kind === 'count' ? rule.count : 1
  return { ok: reachable >= needed, reachable, voters: all.size, needed }
}

/** `majority`, `off`, or a whole number of members from 1 up; null for anything else. */
export function parseQuorumRule(value: string): QuorumRule | null {
  const v = value.trim().toLowerCase()
  if (v === 'majority') return { kind: 'majority' }
  if (v === 'off') return { kind: 'off' }
  if (/^[1-9][0-9]{0,3}$/.test(v)) return { kind: 'count', count: Number(v) }
  return null
}

export function formatQuorumRule(rule: QuorumRule): string {
  return rule.kind === 'count' ? String(rule.count) : rule.kind
}

/** The state in words, for the log, /healthz and the page. */
export function describeQuorum(s: QuorumState): string {
  return `this node reaches ${s.reachable} of the cluster's ${s.voters} members and needs ${s.needed} (--quorum)`
}
