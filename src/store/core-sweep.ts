/**
 * Gets disk back. Autobase deletes nothing, and clearing blocks leaves RocksDB's files as they
 * were; so, once this node has moved to another log (a compaction, an adoption) and from time
 * to time, it deletes from its corestore every core it no longer needs, then compacts RocksDB
 * so the files shrink.
 *
 * Kept: every core in use in this process (the log this node is on, its files, a peer's file
 * being served), every writer of the log this node is on (autobase closes an idle
 * non-indexer's core and opens it again when it wakes), the cores first opened since that log
 * began to open here (autobase keeps some of them closed for a while: core-births.ts), and the
 * file cores that a record still points to. Everything else is a core of a log this node has
 * left, or of files every record of which is gone. A core deleted that a peer asks for again is
 * simply fetched again.
 *
 * A core nobody here uses any more stays open as long as a peer replicates it, and the peer
 * keeps it for the same reason: after a move, the old log's cores would stay open on every
 * node for as long as the connections last. Handing them to corestore's idle collection, or
 * closing them, is not enough: a peer that still holds one opens a channel for it, and
 * corestore opens the core again because it is stored (`_attachMaybe`); two or three nodes
 * that left the same log did that to one another for good (a 35-minute soak came to rest with
 * 7 such cores on one node, closed at every sweep and open again at the next). So the sweep
 * first retires every core it means to delete (store/retiring-storage.ts: a peer's channel for
 * it now finds nothing stored), then closes those open with no session, then deletes them all
 * in the same sweep. A close that has not ended within 5 s (a channel's handler that never
 * settles holds it) is left for the next sweep and counted (`stuck.closeHangs`), as is a core
 * still opening (`stuck.notOpened`).
 *
 * Measured (../shared/STACK.md): hypercore-storage's `deleteCore` removes a core's entry and
 * its sessions' data but not its own data range; that range is deleted here as well, else the
 * blocks and tree nodes stay on disk for ever.
 */
import Hypercore from 'hypercore'
import type Corestore from 'corestore'
import type { CoreEntry } from 'corestore'
import keys from 'hypercore-storage/lib/keys.js'
import { RetiringStorage } from './retiring-storage.ts'

export interface SweepResult {
  /** Cores deleted. */
  deleted: number
  /** Cores no longer needed and still open after the sweep (see `stuck`): the next one tries again. */
  closing: number
  /** Of the cores closed or left closing, how many had their close under way when found. */
  closeStarted: number
  /** Cores left in the store. */
  kept: number
  /** Cores kept only because they were first opened since the log this node is on began to. */
  spared?: number
  /** The discovery keys (hex) of the cores deleted. */
  deletedIds?: string[]
  ms: number
  /** Cores open with no session that this sweep closed (and deleted). */
  reclaimed?: number
  /**
   * Cores this sweep could not close, by why (`closeHangs`: a close not ended within 5 s;
   * `notOpened`: still opening): none of these should last.
   */
  stuck?: Record<string, number>
}

/** How long the sweep waits for the unused cores to close (their channels' handlers to end). */
const CLOSE_WAIT_MS = 5000

/**
 * Deletes every stored core that no session here uses and that is not in `keep` (hex core
 * keys) or `keepIds` (hex discovery keys: core-births.ts), closing those still open first,
 * then compacts the store. The store must be over a RetiringStorage.
 */
export async function sweepCores(
  store: Corestore,
  keep: Iterable<string>,
  keepIds: Iterable<string> = [],
): Promise<SweepResult> {
  const started = Date.now()
  const { storage } = store
  if (!(storage instanceof RetiringStorage)) {
    throw new TypeError(
      'sweepCores needs a corestore over a RetiringStorage (store/retiring-storage.ts)',
    )
  }
  const kept = new Set<string>()
  const born = new Set<string>(keepIds)
  let spared = 0
  for (const key of keep) {
    kept.add(Hypercore.discoveryKey(Buffer.from(key, 'hex')).toString('hex'))
  }
  const doomed: Stored[] = []
  const unused: (Stored & { open: OpenCore })[] = []
  let total = 0
  let closeStarted = 0
  const stuck: Record<string, number> = {}
  for await (const { discoveryKey, core } of storage.createCoreStream()) {
    total++
    const id = discoveryKey.toString('hex')
    if (kept.has(id)) continue
    const open = store.cores.map.get(id)
    if (born.has(id)) {
      // Kept only as born since the log this node is on began to open: counted, to see what stays.
      if (!open?.hasSession()) spared++
      continue
    }
    if (!open) doomed.push({ id, core })
    else if (open.hasSession()) continue
    else if (!open.opened) stuck.notOpened = (stuck.notOpened ?? 0) + 1
    else {
      if (open.closing) closeStarted++
      unused.push({ id, core, open })
    }
  }
  const retired = [...doomed, ...unused].map((c) => c.id)
  const deletedIds: string[] = []
  let reclaimed = 0
  try {
    await storage.retire(retired)
    const closed = await closeUnused(store, unused)
    reclaimed = closed.length
    for (const c of unused) {
      if (!closed.includes(c) && !c.open.hasSession()) {
        stuck.closeHangs = (stuck.closeHangs ?? 0) + 1
      }
    }
    for (const { id, core } of [...doomed, ...closed]) {
      // Opened meanwhile (by us, or for a peer that asked before it was retired): in use.
      if (store.cores.map.has(id)) continue
      await deleteCore(store, core)
      deletedIds.push(id)
    }
  } finally {
    storage.release(retired)
  }
  await storage.compact()
  const closing = Object.values(stuck).reduce((a, b) => a + b, 0)
  const deleted = deletedIds.length
  return {
    deleted,
    deletedIds,
    spared,
    closing,
    closeStarted,
    kept: total - deleted,
    ms: Date.now() - started,
    reclaimed,
    ...(closing > 0 ? { stuck } : {}),
  }
}

interface Stored {
  id: string
  core: CoreEntry
}

type OpenCore = NonNullable<ReturnType<Corestore['cores']['map']['get']>>

/**
 * Closes cores no session uses, as corestore's idle collection does (and, as that does, takes
 * each out of the store's map however its close ended), all within one deadline: those that
 * closed. One a session opened meanwhile is left open.
 */
async function closeUnused<C extends { id: string; open: OpenCore }>(
  store: Corestore,
  cores: C[],
): Promise<C[]> {
  const closed: C[] = []
  const closing = cores.map((c) => {
    const { id, open } = c
    if (open.hasSession()) return Promise.resolve()
    // Out of corestore's countdown first, so that its collection does not close it as well.
    store.cores.resume(id)
    const gone = () => {
      if (store.cores.map.get(id) === open) store.cores.map.delete(id)
    }
    return open.close().then(() => {
      closed.push(c)
      gone()
    }, gone)
  })
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    Promise.all(closing),
    new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS))),
  ])
  clearTimeout(timer)
  return [...closed]
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
