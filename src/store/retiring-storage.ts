/**
 * hypercore-storage that can say "not here" to peers about cores it is about to delete.
 *
 * A peer that opens a channel for a core makes corestore open that core again if it is stored
 * (`_attachMaybe`, which asks `hasCore`). So a core the sweep closes is reopened as soon as a
 * peer that still holds it asks, and two or three nodes that each left the same old log kept
 * reopening it for one another: a 35-minute soak came to rest with 7 cores of an old log
 * closed at every sweep and open again at the next, 4 MB never given back. While the sweep
 * retires a core (store/core-sweep.ts), `hasCore` answers false for it, so a peer's channel
 * for it finds nothing to open and the sweep can close and delete it in one go. Our own opens
 * do not ask `hasCore` (only `get` with `createIfMissing: false` does, and then finds the core
 * gone, which it is about to be).
 */
import CoreStorage from 'hypercore-storage'

export class RetiringStorage extends CoreStorage {
  private retired = new Set<string>()
  /** `hasCore` answers not yet given: one begun before a retirement may still say yes. */
  private asking = new Set<Promise<boolean>>()

  override hasCore(discoveryKey: Buffer, opts?: Record<string, unknown>): Promise<boolean> {
    if (this.retired.has(discoveryKey.toString('hex'))) return Promise.resolve(false)
    const answer = super.hasCore(discoveryKey, opts)
    this.asking.add(answer)
    const done = () => void this.asking.delete(answer)
    answer.then(done, done)
    return answer
  }

  /**
   * From now on these cores (hex discovery keys) are not here for a peer. Resolves once every
   * `hasCore` asked before has been answered, and so acted on: a core a peer's channel was
   * opening by then is in corestore's map, where the sweep sees it is in use.
   */
  async retire(ids: Iterable<string>): Promise<void> {
    for (const id of ids) this.retired.add(id)
    await Promise.allSettled([...this.asking])
  }

  /** Back for peers (deleted ones are not stored any more and say so themselves). */
  release(ids: Iterable<string>): void {
    for (const id of ids) this.retired.delete(id)
  }
}
