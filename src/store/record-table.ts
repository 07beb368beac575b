/**
 * The merge rule: the current records as a pure function of the set of operations seen.
 *
 * Autobase may apply the same operations again in another order (it truncates and re-applies
 * its view when concurrent writes arrive late), so `applyOp` is commutative and idempotent:
 * any order of any multiset of the same operations yields the same table. Time only enters
 * through the `now` argument of the read and purge functions.
 */
import { isDeepStrictEqual } from 'node:util'
import { isLive, type Download, type RecordOp, type RemoveOp } from './record.ts'
import { SetMap } from '../set-map.ts'

const isFinished = (d: Download): boolean => !isLive(d)

interface Entry {
  /** The winning write for this id (see `wins`). */
  download: Download
  /** A dismissal beats every write of the same id, in any order. */
  removed: RemoveOp | null
  /** The latest expiry of any write seen: until then a late write may still arrive. */
  maxExpiresAt: number
  /** The file behind it was released by `purge`. */
  purged: boolean
}

export interface RecordTable {
  entries: Map<string, Entry>
  /**
   * Each user's records not dismissed, for `currentFor` and `visibleOf`: a dismissed one is
   * never visible again, so it leaves at its dismissal rather than at its purge (a user's
   * hundredth download would otherwise look through the ninety-nine before it at every change).
   */
  byUser: SetMap<string, string>
}

export function createTable(): RecordTable {
  return { entries: new Map(), byUser: new SetMap() }
}

/**
 * True when write `a` beats write `b` of the same record. A finished write (ready or error)
 * beats every unfinished one: once a download is done, no late takeover or stale worker can
 * send it back to running, and a worker whose write loses to it stops. Then the higher epoch:
 * a takeover raises it, so a paused or cut-off former owner can never overwrite its successor.
 * Within an epoch only one owner writes, with rising versions. The last two keys only break
 * ties that a correct cluster never produces, but must still break them the same way
 * everywhere.
 */
export function wins(a: Download, b: Download): boolean {
  const finished = isFinished(a)
  if (finished !== isFinished(b)) return finished
  if (a.epoch !== b.epoch) return a.epoch > b.epoch
  if (a.version !== b.version) return a.version > b.version
  if (a.updatedAt !== b.updatedAt) return a.updatedAt > b.updatedAt
  // Nearly always the same write again (read back from the log, carried, re-applied after a
  // truncation): a field-by-field look is five times cheaper than the canonical form's.
  if (isDeepStrictEqual(a, b)) return false
  return canonical(a) > canonical(b)
}

function canonical(d: Download): string {
  return JSON.stringify(d, Object.keys(d).sort())
}

/**
 * Merges one operation. Returns the id of the record it changed as readers see it, or null: an
 * operation merged before (every node reads back from the log what its peers had already sent
 * it) or one that lost changes nothing to react to.
 */
export function applyOp(table: RecordTable, op: RecordOp): string | null {
  const id = op.type === 'put' ? op.download.id : op.id
  const entry = table.entries.get(id)

  if (op.type === 'put') {
    const d = op.download
    if (!entry) {
      table.entries.set(id, {
        download: d,
        removed: null,
        maxExpiresAt: d.expiresAt,
        purged: false,
      })
      table.byUser.add(d.userId, id)
      return id
    }
    entry.maxExpiresAt = Math.max(entry.maxExpiresAt, d.expiresAt)
    if (!wins(d, entry.download)) return null
    entry.download = d
    entry.purged = false
    return id
  }

  if (!entry) {
    // A dismissal that arrives before the record it dismisses: keep it as a tombstone.
    const placeholder: Download = {
      id,
      userId: op.userId,
      state: 'error',
      progress: 0,
      file: null,
      error: null,
      owner: '',
      ownerName: '',
      epoch: -1,
      version: -1,
      createdAt: op.at,
      updatedAt: op.at,
      finishedAt: null,
      expiresAt: 0,
      checkpoint: null,
      params: {},
      attempt: 1,
      attempts: 1,
      retryAt: null,
    }
    table.entries.set(id, { download: placeholder, removed: op, maxExpiresAt: 0, purged: false })
    return id
  }
  // Of two dismissals keep the later-expiring one, so the tombstone outlives every write.
  const first = !entry.removed
  if (first || op.expiresAt > entry.removed!.expiresAt) entry.removed = op
  if (!first) return null
  table.byUser.delete(entry.download.userId, id)
  return id
}

function visible(entry: Entry, now: number): boolean {
  return entry.removed === null && now < entry.download.expiresAt
}

/** A record as readers see it: null once dismissed or expired. */
export function get(table: RecordTable, id: string, now: number): Download | null {
  const entry = table.entries.get(id)
  return entry && visible(entry, now) ? entry.download : null
}

/**
 * The user's one current download. Two nodes may insert for the same user at the same moment;
 * every node then picks the same one: the earliest created, ties broken by id.
 */
export function currentFor(table: RecordTable, userId: string, now: number): Download | null {
  let best: Download | null = null
  for (const id of table.byUser.get(userId)) {
    const entry = table.entries.get(id)
    if (!entry || !visible(entry, now)) continue
    const d = entry.download
    if (
      !best ||
      d.createdAt < best.createdAt ||
      (d.createdAt === best.createdAt && d.id < best.id)
    ) {
      best = d
    }
  }
  return best
}

/** A user's visible records (usually one; two while a race of requests is being settled). */
export function visibleOf(table: RecordTable, userId: string, now: number): Download[] {
  const out: Download[] = []
  for (const id of table.byUser.get(userId)) {
    const entry = table.entries.get(id)
    if (entry && visible(entry, now)) out.push(entry.download)
  }
  return out
}

/** Every visible record, in no particular order. */
export function visibleRecords(table: RecordTable, now: number): Download[] {
  const out: Download[] = []
  for (const entry of table.entries.values()) if (visible(entry, now)) out.push(entry.download)
  return out
}

/**
 * What a node carries from one log to the next (an adoption, a compaction): every record not
 * yet purged, and every dismissal that may still meet a stale copy of its record. Without the
 * dismissals, a node that had not yet seen one would carry the dismissed record back to life.
 * A dismissed or expired record is carried until it is purged (it stays invisible): its purge
 * is what frees its file, and a log that never held it would never free it.
 */
export function carriedOps(table: RecordTable, now: number): RecordOp[] {
  const ops: RecordOp[] = []
  for (const entry of table.entries.values()) {
    if (!entry.purged && entry.download.epoch >= 0) {
      ops.push({ type: 'put', download: entry.download })
    }
    if (entry.removed && now < entry.removed.expiresAt) ops.push(entry.removed)
  }
  return ops
}

/**
 * Of the operations a node carries (`carriedOps`), those it writes to the new log: not a record
 * already expired. That one is merged into this node's own table, where its purge frees its
 * file, as every node that held it does with its own; written, it would only lengthen a fresh
 * log with what no node can show (a node that had not purged it yet when a compaction spread
 * wrote sixty of them to the log just compacted).
 */
export function unexpired(ops: RecordOp[], now: number): RecordOp[] {
  return ops.filter((op) => op.type !== 'put' || now < op.download.expiresAt)
}

/**
 * Of the operations a node would carry to a log, those that log's table does not already
 * reflect: a record it lacks or holds an older write of, a dismissal it lacks or holds an
 * earlier-expiring one of. Nodes that follow a compaction carry only these, not their whole
 * table again.
 */
export function missingFrom(table: RecordTable, ops: RecordOp[]): RecordOp[] {
  return ops.filter((op) => {
    const entry = table.entries.get(op.type === 'put' ? op.download.id : op.id)
    if (!entry) return true
    if (op.type === 'put') return wins(op.download, entry.download)
    return !entry.removed || op.expiresAt > entry.removed.expiresAt
  })
}

/**
 * A finished record whose file may still be served: dismissing a card does not revoke the link
 * the user just clicked, expiry does.
 */
export function servable(table: RecordTable, id: string, now: number): Download | null {
  const entry = table.entries.get(id)
  if (!entry || entry.download.state !== 'ready' || now >= entry.download.expiresAt) return null
  return entry.download
}

/** A record `purge` released: its file may now be deleted. */
export interface Released {
  download: Download
  /** Its user dismissed it (its state is the last one written before, `pending` as often as not). */
  dismissed: boolean
}

/**
 * Releases what expired: returns the records whose files may now be deleted, and forgets
 * entries once no write that could revive them can still arrive.
 */
export function purge(table: RecordTable, now: number): Released[] {
  const released: Released[] = []
  for (const [id, entry] of table.entries) {
    const expired = now >= entry.download.expiresAt
    if (!expired) continue
    if (!entry.purged) {
      entry.purged = true
      if (entry.download.epoch >= 0)
        released.push({ download: entry.download, dismissed: entry.removed !== null })
    }
    const until = Math.max(entry.maxExpiresAt, entry.removed?.expiresAt ?? 0)
    if (now >= until) {
      table.entries.delete(id)
      table.byUser.delete(entry.download.userId, id)
    }
  }
  return released
}
