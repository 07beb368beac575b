/**
 * Gets disk back. Autobase deletes nothing, and clearing blocks leaves RocksDB's files as they
 * were; so, once this node has moved to another log (a compaction, an adoption) and from time
 * to time, it deletes from its corestore every core it no longer needs, then compacts RocksDB
 * so the files shrink.
 *
 * Kept: every core in use in this process (the log this node is on, its files, a peer's file
 * being served), every writer of the log this node is on (autobase closes an idle
 * non-indexer's core and opens it again when it wakes), and the file cores that a record still
 * points to. Everything else is a core of a log this node has left, or of files every record
 * of which is gone. A core deleted that a peer asks for again is simply fetched again.
 *
 * A core nobody here uses any more stays open as long as a peer replicates it, and the peer
 * keeps it for the same reason: after a move, the old log's cores would stay open on every
 * node for as long as the connections last. So the sweep hands such a core to corestore's own
 * idle collection, which closes it some seconds later unless it is used again meanwhile; the
 * next sweep deletes it. But a peer that opens a channel for the core (corestore's
 * `_attachMaybe`, when the peer's replicator attaches it again) resets that countdown, and two
 * nodes can keep doing it to each other for as long as both hold the core: a soak found 9 and
 * 7 cores of old logs open at rest, handed over afresh at every sweep. So a core found open
 * and unused at two sweeps at least 10 s apart (`lingering`; corestore's countdown closes a
 * core 6 to 8 s after it starts, so one still open was used again meanwhile) is closed by
 * the sweep itself, as the idle collection would, and deleted by the next sweep like any core
 * not open. Whether its countdown runs at that moment says nothing: a peer's replicator that
 * goes idle starts it afresh (hypercore's `onidle`), and a later soak found 7 cores at rest
 * that every sweep saw counting down, when only the stopped ones were closed. Not in the same
 * sweep: a peer asking for it between the close and the delete would reopen it from entries
 * being deleted, and one whose reopen then fails has its whole connection destroyed (protomux
 * destroys a stream when a channel's pairing throws).
 *
 * Measured (../shared/STACK.md): hypercore-storage's `deleteCore` removes a core's entry and
 * its sessions' data but not its own data range; that range is deleted here as well, else the
 * blocks and tree nodes stay on disk for ever.
 */
import Hypercore from 'hypercore'
import type Corestore from 'corestore'
import type { CoreEntry } from 'corestore'
import keys from 'hypercore-storage/lib/keys.js'

export interface SweepResult {
  /** Cores deleted. */
  deleted: number
  /** Cores no longer needed, still open: corestore closes them some seconds later. */
  closing: number
  /**
   * Of those, how many have their close under way already (corestore's countdown is over):
   * one that stays so from sweep to sweep is a close that does not finish, not a countdown.
   */
  closeStarted: number
  /** Cores left in the store. */
  kept: number
  ms: number
  /** The ids (hex discovery keys) of the cores closing: the next sweep's `lingering`. */
  closingIds?: string[]
  /** Of `closing`, the lingering cores this sweep closed itself (the next one deletes them). */
  reclaimed?: number
  /**
   * Lingering cores this sweep could not close, by why (`closeHangs`: a close under way since
   * the last sweep at least; `notOpened`: still opening): none of these should last.
   */
  stuck?: Record<string, number>
}

/** How long the sweep waits for the lingering cores to close (their channels' handlers to end). */
const CLOSE_WAIT_MS = 5000

/**
 * Deletes every stored core that is not open here and not in `keep` (hex core keys), then
 * compacts the store. `lingering`: the cores a sweep at least 10 s ago found closing (its
 * `closingIds`, handed on by sweeper.ts); one still open and unused is closed here, and
 * deleted by the next sweep.
 */
export async function sweepCores(
  store: Corestore,
  keep: Iterable<string>,
  lingering: ReadonlySet<string> = new Set(),
): Promise<SweepResult> {
  const started = Date.now()
  const kept = new Set<string>()
  for (const key of keep) {
    kept.add(Hypercore.discoveryKey(Buffer.from(key, 'hex')).toString('hex'))
  }
  const { storage } = store
  const doomed = []
  const reclaim: OpenCore[] = []
  const closingIds: string[] = []
  let total = 0
  let closeStarted = 0
  const stuck: Record<string, number> = {}
  for await (const { discoveryKey, core } of storage.createCoreStream()) {
    total++
    const id = discoveryKey.toString('hex')
    if (kept.has(id)) continue
    const open = store.cores.map.get(id)
    if (!open) doomed.push({ id, core })
    else if (open.hasSession()) continue
    else if (lingering.has(id) && open.opened && !open.closing) {
      // Open and unused since a sweep handed it over, longer ago than any countdown lasts.
      reclaim.push(open)
      closingIds.push(id)
    } else {
      // Already handed over: collecting it again would start its countdown afresh.
      if (!open.gc) store.cores.gc(open)
      closingIds.push(id)
      if (open.closing) closeStarted++
      if (lingering.has(id)) {
        const why = open.closing ? 'closeHangs' : 'notOpened'
        stuck[why] = (stuck[why] ?? 0) + 1
      }
    }
  }
  let deleted = 0
  for (const { id, core } of doomed) {
    // Opened meanwhile (a peer asked for it): it is in use after all.
    if (store.cores.map.has(id)) continue
    await deleteCore(store, core)
    deleted++
  }
  const reclaimed = await closeLingering(store, reclaim)
  await storage.compact()
  return {
    deleted,
    closing: closingIds.length,
    closeStarted,
    kept: total - deleted,
    ms: Date.now() - started,
    closingIds,
    reclaimed,
    ...(Object.keys(stuck).length > 0 ? { stuck } : {}),
  }
}

type OpenCore = NonNullable<ReturnType<Corestore['cores']['map']['get']>>

/**
 * Closes cores no session uses, as corestore's idle collection does (and, as that does, takes
 * each out of the store's map however its close ended), all within one deadline: how many
 * closed. One a session opened meanwhile is left open.
 */
async function closeLingering(store: Corestore, cores: OpenCore[]): Promise<number> {
  let closed = 0
  const closing = cores.map((open) => {
    if (open.hasSession()) return Promise.resolve()
    const id = open.discoveryKey.toString('hex')
    // Out of corestore's countdown first, so that its collection does not close it as well.
    store.cores.resume(id)
    const gone = () => {
      if (store.cores.map.get(id) === open) store.cores.map.delete(id)
    }
    return open.close().then(() => {
      closed++
      gone()
    }, gone)
  })
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    Promise.all(closing),
    new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS))),
  ])
  clearTimeout(timer)
  return closed
}

/**
 * Deletes a core from the store: its entry and its sessions' data (hypercore-storage's
 * `deleteCore`), and its own data range, which that leaves behind.
 */
async function deleteCore(store: Corestore, core: CoreEntry): Promise<void> {
  const { storage } = store
  await storage.deleteCore(core)
  const tx = storage.db.write({ autoDestroy: true })
  tx.tryDeleteRange(keys.core.data(core.dataPointer), keys.core.data(core.dataPointer + 1))
  await tx.flush()
}
