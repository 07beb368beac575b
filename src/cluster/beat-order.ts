/**
 * Which heartbeats are news. Beats travel as datagrams (cluster.ts), which may arrive after a
 * later one, twice, or replayed by anyone on the path; each carries its sender's count
 * (`Beat.seq`), and one not newer than the last heard from that sender's incarnation is
 * dropped, so a replayed beat keeps nobody alive. A beat of an older incarnation goes on to
 * the membership, which knows what to make of it (a restart on a clock set back refutes from
 * there). Pure.
 */
import type { Beat } from './beat.ts'

export class BeatOrder {
  private readonly newest = new Map<string, { incarnation: number; seq: number }>()

  /** A beat older than one already heard from its sender's incarnation. */
  stale(beat: Beat): boolean {
    if (beat.seq === undefined) return false
    const { id, incarnation } = beat.self
    const newest = this.newest.get(id)
    if (newest && incarnation < newest.incarnation) return false
    if (newest && incarnation === newest.incarnation && beat.seq <= newest.seq) return true
    this.newest.set(id, { incarnation, seq: beat.seq })
    return false
  }
}
