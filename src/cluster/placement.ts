/**
 * Who runs each user's worker, from this node's membership view alone: a new download goes
 * to the first alive member in the user's rendezvous ranking; a download whose owner is gone
 * goes to the first live member in the same ranking (in both, a member whose disk is low comes
 * after those that take work). Every node computes the same answer without asking anyone; when
 * views briefly differ and two nodes both take over, the log's epoch rule keeps exactly one of
 * them.
 */
import { isLiveStatus, type Member } from './member.ts'
import { owner, rank } from './rendezvous.ts'

export interface NodeRef {
  id: string
  name: string
}

export interface PlacementOptions {
  self: NodeRef
  /** Every member this node has heard of, itself included. */
  members(): Member[]
  /** Whether this node, just restarted, knows enough to act (rejoin.ts). */
  rejoin: { ready(): boolean; unheardOwnerGone(): boolean }
  /** Whether this node reaches enough of its cluster to act for it (quorum-watch.ts). */
  quorum?: { mayAct(): boolean; settled(): Promise<boolean> }
  /** Whether a member takes new downloads (cluster.ts, from its beats). @default all do */
  takesWork?: (id: string) => boolean
}

export class Placement {
  constructor(private readonly o: PlacementOptions) {}

  /**
   * May this node run work at all: not while, just restarted, it waits for its cluster, nor
   * while it is cut off from a quorum of it. Judged afresh on every call.
   */
  mayWork(): boolean {
    return this.o.rejoin.ready() && (this.o.quorum?.mayAct() ?? true)
  }

  /** `mayWork`, once a quorum loss seen now is confirmed or refuted (quorum-watch.ts). */
  async mayWorkSettled(): Promise<boolean> {
    return this.o.rejoin.ready() && ((await this.o.quorum?.settled()) ?? true)
  }

  private ref(id: string | null): NodeRef | null {
    if (!id) return null
    const m = this.o.members().find((x) => x.id === id)
    return m ? { id: m.id, name: m.name } : null
  }

  /**
   * The owner of a new download for this user: the first alive member in its ranking that
   * takes work (one whose disk is low says it does not, and its workers are paused); if none
   * does, the first alive one, whose refusal then says why.
   */
  ownerFor(userId: string): NodeRef {
    const alive = this.o
      .members()
      .filter((m) => m.status === 'alive')
      .map((m) => m.id)
    const taking = alive.filter((id) => this.o.takesWork?.(id) ?? true)
    return this.ref(owner(userId, taking.length > 0 ? taking : alive)) ?? this.o.self
  }

  /** Is the node that owns this download gone (dead, left, or not back since a restart)? */
  ownerGone(ownerId: string): boolean {
    const m = this.o.members().find((x) => x.id === ownerId)
    if (!m) return this.o.rejoin.unheardOwnerGone()
    return m.status === 'dead' || m.status === 'left'
  }

  /**
   * The members that would take this user's download over from this node, in order: the
   * first if this node died, the second if the first died with it. They get its checkpoints.
   */
  successorsOf(userId: string, count: number): string[] {
    return this.inLine(userId)
      .filter((id) => id !== this.o.self.id)
      .slice(0, count)
  }

  /**
   * Who should take over a download of this user whose owner is gone, or null while it is not:
   * the first of the live members in line (`inLine`). One whose disk is low comes after those
   * that take work: its workers are paused, and a download it took over would wait there with
   * nothing said (an operator's trial lost one so, its bar frozen until the record expired).
   */
  successorFor(userId: string, ownerId: string): NodeRef | null {
    if (!this.ownerGone(ownerId)) return null
    return this.ref(this.inLine(userId)[0] ?? null)
  }

  /**
   * The live members in the order they would take this user's download over: the user's
   * ranking among those that take work, then among those that do not (their disk is low).
   * Nodes whose views of who is low differ for a moment may both take a download over; the
   * log's epoch rule keeps one of them, as when their views of who is alive differ.
   */
  private inLine(userId: string): string[] {
    const live = this.liveIds()
    const taking = live.filter((id) => this.o.takesWork?.(id) ?? true)
    const low = live.filter((id) => !taking.includes(id))
    return [...rank(userId, taking), ...rank(userId, low)]
  }

  /**
   * Does this node keep a copy of a file `makerId` made for this user: the first `copies` live
   * members of the user's ranking other than its maker do, the ones that would take the user's
   * downloads over. A file then outlives its maker without every node paying to copy every
   * file; the others fetch it when a page asks them for it.
   */
  keepsFileCopy(userId: string, makerId: string, copies: number): boolean {
    const others = this.liveIds().filter((id) => id !== makerId)
    return rank(userId, others).slice(0, copies).includes(this.o.self.id)
  }

  /** The live members' ids, sorted: equal strings for equal sets. */
  liveIds(): string[] {
    return this.o
      .members()
      .filter((m) => isLiveStatus(m.status))
      .map((m) => m.id)
      .sort()
  }
}
