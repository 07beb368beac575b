/**
 * Copies of other nodes' checkpoints, held by the nodes that would take their downloads over.
 * A worker sends every checkpoint to its download's next members in the user's ranking
 * (relay.ts), and writes one to the log only every `--log-checkpoint-ms`; so on a takeover the
 * successor resumes from the freshest checkpoint it holds, its copy or the log's. It also holds
 * this node's own newest, of a worker stopped to run here again after a cut or a pause
 * (supervisor.ts). Pure: a map fed by the relay and the supervisor, read by the supervisor.
 */
import type { Download } from '../store/record.ts'
import type { RelayedCheckpoint as CheckpointCopy } from '../cluster/relay.ts'

/** Copies kept at most; past it the oldest-arrived go first (a purge forgets the rest). */
const MAX_COPIES = 100_000

export class CheckpointCopies {
  private readonly copies = new Map<string, CheckpointCopy>()

  /** Keeps a copy unless one as fresh (same or newer epoch, as far or further) is held. */
  offer(copy: CheckpointCopy): void {
    const held = this.copies.get(copy.id)
    if (
      held &&
      (held.epoch > copy.epoch || (held.epoch === copy.epoch && held.progress >= copy.progress))
    )
      return
    this.copies.delete(copy.id)
    this.copies.set(copy.id, copy)
    if (this.copies.size > MAX_COPIES) this.copies.delete(this.copies.keys().next().value!)
  }

  /** Where to resume this download from, if a held copy is ahead of what the log says. */
  aheadOf(d: Download): CheckpointCopy | null {
    const copy = this.copies.get(d.id)
    if (!copy || copy.userId !== d.userId || copy.epoch < d.epoch) return null
    return copy.progress > d.progress ? copy : null
  }

  /** Every copy held. */
  held(): IterableIterator<CheckpointCopy> {
    return this.copies.values()
  }

  forget(id: string): void {
    this.copies.delete(id)
  }

  get size(): number {
    return this.copies.size
  }
}
