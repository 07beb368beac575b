/**
 * What keeps a node from doing its work right now, in words an operator can act on. /healthz
 * answers 503 with these while there are any, so a load balancer takes the node out.
 */

export interface HealthSignals {
  /** How long reading the record log has waited for a block (0 when it is not waiting). */
  readStalledMs: number
  /** How long the oldest write under way to the record log has taken (0 when none is). */
  writeStalledMs?: number
  /** The last write to the record log that failed, until one succeeds. */
  writeError: { message: string; at: number } | null
  disk: { low: boolean; free: number; reserve: number }
  dataDir: string
  /** The store failed for good (record-log.ts, `failed`); the node is being reopened. */
  storeFailure?: Error | null
  /** This node's quorum (cluster/quorum.ts); absent where none is kept. */
  quorum?: QuorumState
  /** Moving to the log the cluster is on keeps failing (cluster/log-sync.ts, `adoptProblem`). */
  adopt?: { key: string; message: string; forMs: number } | null
}

import { describeSkew } from './cluster/clock-skew.ts'
import { describeQuorum, type QuorumState } from './cluster/quorum.ts'
import type { AloneState } from './cluster/alone-watch.ts'

/** Reading may wait this long for a block before the node counts as stuck. */
export const READ_STALL_MS = 5000
/**
 * A write may be under way this long before the node counts as stuck: far past a loaded
 * cluster's slowest appends (a few seconds), and past the 5 s after which peers write a copy.
 */
export const WRITE_STALL_MS = 15_000
/** A move to the cluster's log may fail this long (it is tried at every advert) before it counts. */
export const ADOPT_GRACE_MS = 5000

const mb = (bytes: number) => `${Math.floor(bytes / (1024 * 1024))} MB`

export function healthProblems(s: HealthSignals): string[] {
  const problems: string[] = []
  if (s.disk.low) {
    problems.push(
      `disk nearly full: ${mb(s.disk.free)} free in ${s.dataDir}, under the ${mb(s.disk.reserve)} reserve (--min-free-mb); new downloads are refused and workers paused until space is back`,
    )
  }
  if (s.storeFailure) {
    problems.push(
      `the store failed (${describeError(s.storeFailure)}); the node restarts itself once it can open it again`,
    )
  }
  if (s.quorum && !s.quorum.ok) {
    problems.push(
      `cut off from its cluster: ${describeQuorum(s.quorum)}; it runs no work and refuses new downloads until it reaches them again`,
    )
  }
  if (s.adopt && s.adopt.forMs >= ADOPT_GRACE_MS) {
    problems.push(
      `cannot move to its cluster's log (${s.adopt.key.slice(0, 12)}) for ${Math.round(s.adopt.forMs / 1000)} s: ${s.adopt.message}; what it writes does not reach its cluster`,
    )
  }
  if (s.writeError) problems.push(`writes to the record log fail: ${s.writeError.message}`)
  if ((s.writeStalledMs ?? 0) >= WRITE_STALL_MS) {
    problems.push(
      `a write to the record log has been under way for ${Math.round(s.writeStalledMs! / 1000)} s; its peers write what it sent them`,
    )
  }
  if (s.readStalledMs >= READ_STALL_MS) {
    problems.push(
      `reading the record log has waited ${Math.round(s.readStalledMs / 1000)} s for a block`,
    )
  }
  return problems
}

export interface WarningSignals {
  /** Members (this node among them if `self`) whose clocks are off cluster time. */
  skewedClocks: { name: string; aheadMs: number; self: boolean }[]
  /** This node's quorum (cluster/quorum.ts); absent where none is kept. */
  quorum?: QuorumState
  /** A fresh node alone (cluster/alone-watch.ts). */
  alone?: AloneState | null
}

/**
 * What is wrong but does not stop the node: /healthz lists these and still answers 200. A
 * skewed clock is one: records use cluster time whatever the machine's clock says. A quorum
 * with no member to spare is another: one more lost and this node stops (a tester killed a
 * member and saw nothing but info lines).
 */
export function healthWarnings(s: WarningSignals): string[] {
  const warnings = s.skewedClocks.map(({ name, aheadMs, self }) =>
    self
      ? `this node's clock is ${describeSkew(aheadMs)} the cluster's: records use the cluster's time, but fix this machine's clock (NTP)`
      : `${name}'s clock is ${describeSkew(aheadMs)} the cluster's`,
  )
  if (s.alone && 'answering' in s.alone)
    warnings.push(
      `alone: the DHT of its --bootstrap (${s.alone.answering.join(', ')}) answers, yet this node has met no member there since it started; it serves its users by itself, apart from that cluster. Most likely its secret is not theirs (or UDP between other ports is blocked, which the links need)`,
    )
  if (s.alone && 'silent' in s.alone)
    warnings.push(
      `alone: none of its --bootstrap (${s.alone.silent.join(', ')}) answers, and it has met no member since it started; it serves its users by itself until it meets its cluster. Check the addresses, that those nodes are up, and that UDP to their DHT ports is open`,
    )
  const q = s.quorum
  if (q && q.ok && q.voters > 1 && q.reachable === q.needed)
    warnings.push(
      `no member to spare: ${describeQuorum(q)}; one more out of reach and it is cut off, and stops its downloads`,
    )
  return warnings
}

/**
 * An error with its causes, as one line: RocksDB's reason ("No space left on device") hides
 * in the `cause` of autobase's "Batch was not applied", or in the errors of an AggregateError.
 */
export function describeError(err: Error): string {
  const parts = [err.message]
  let next: unknown = err.cause ?? (err as Partial<AggregateError>).errors?.find(Boolean)
  for (let depth = 0; next instanceof Error && depth < 4; depth++) {
    if (!parts.includes(next.message)) parts.push(next.message)
    next = next.cause ?? (next as Partial<AggregateError>).errors?.find(Boolean)
  }
  return parts.join(': ')
}

/** The body of GET /healthz. */
export interface Health {
  ok: boolean
  /** What keeps the node from working now (health.ts); empty when ok. */
  problems: string[]
  /** What is wrong but does not stop the node (a member's clock off, say). */
  warnings: string[]
  id: string
  name: string
  uptimeMs: number
  running: number
  /** Records this node shows (live and finished, until they expire). */
  records: number
  members: number
  /**
   * The log this node is on: its key, writers, whether this node may write, operations in it,
   * and how many compactions the cluster's log has been through.
   */
  log: {
    key: string
    writers: number
    writable: boolean
    /** Record operations in the log this node is on. */
    length: number
    /** Blocks of its view (one may hold several operations: store/op-pack.ts). */
    blocks: number
    generation: number
    /**
     * The member this node hands what it writes to (cluster/scribe.ts); null when it writes
     * its own (it is the scribe, alone, not yet a writer, or --log-writers each).
     */
    scribe: string | null
    /** That member's name (null with `scribe`, or while it is not a known member). */
    scribeName: string | null
    /** This node is the scribe: its peers hand it what they write, and it writes its own. */
    isScribe: boolean
    /** Record operations a scribe wrote for this node, and this node wrote for peers, since start. */
    handed: number
    writtenFor: number
  }
  /** This node's clock against cluster time (cluster/cluster-time.ts). */
  clock: { aheadMs: number; compared: boolean }
  /** Whether this node reaches enough of its cluster to act for it (cluster/quorum.ts). */
  quorum: QuorumState & { rule: string }
  /**
   * Still joining its cluster: just started (or back from a cut) and not yet sure what the
   * cluster did meanwhile, or its clock not yet checked against the cluster's. New downloads
   * are refused ("still joining its cluster") until this is false.
   */
  joining: boolean
}
