/**
 * The download repository: the only way the worker and the web layer read or write records.
 * It mirrors the seed's API (fetch by user, insert, update, remove) over the record log, so
 * nothing above this file knows about autobase.
 */
import { EventEmitter } from 'node:events'
import { parseOp, type Download, type RecordOp } from './record.ts'
import {
  currentFor,
  get,
  purge,
  servable,
  visibleOf,
  visibleRecords,
  type RecordTable,
  type Released,
} from './record-table.ts'
import type { Clock } from '../clock.ts'

export class InvalidRecordError extends Error {
  constructor(op: RecordOp) {
    const id = op.type === 'put' ? op.download.id : op.id
    super(`refused to write an invalid ${op.type} of download ${id}`)
    this.name = 'InvalidRecordError'
  }
}

/** An insert either happened, or did not because the user already has this download. */
export type InsertResult = { inserted: true } | { inserted: false; existing: Download }

export interface RepositoryEvents {
  /** Records changed; the argument holds the user ids whose records were touched. */
  change: [userIds: Set<string>]
}

export interface DownloadRepository extends EventEmitter<RepositoryEvents> {
  /**
   * The time records are stamped and judged in: cluster time (cluster/cluster-time.ts), not
   * this machine's clock, which may be off.
   */
  now(): number
  get(id: string): Download | null
  forUser(userId: string): Download | null
  /** Every visible record of one user (two while a race of requests is being settled). */
  ofUser(userId: string): Download[]
  all(): Download[]
  /**
   * Writes a new download unless its user already has one (then nothing is written). Resolves
   * once the record is merged here, its write going on: the next action of the user sees it.
   */
  insert(download: Download): Promise<InsertResult>
  /**
   * Writes a new version; resolves to the record that won the merge (maybe not this one) once
   * it is written. `merged` is told the winner as the version merged here, before the write
   * ends: a dismissal may come between.
   */
  update(download: Download, merged?: (winner: Download | null) => void): Promise<Download | null>
  /**
   * Dismisses a record: it disappears everywhere, whatever is written to it later. Resolves
   * once merged here, as `insert`.
   */
  remove(download: Download): Promise<void>
  /** A ready record whose file may be served (dismissed or not), until it expires. */
  servable(id: string): Download | null
  /** Forgets what expired; returns the records whose files may be deleted. */
  purge(): Released[]
}

/** The log as the repository uses it (record-log.ts; an in-memory one in tests). */
export interface OpLog {
  readonly table: RecordTable
  /**
   * Resolves once the operation is written and merged into `table`; with `until: 'merged'`,
   * once it is merged, its write going on (record-log.ts). `onMerged` is called as it merges.
   */
  append(op: RecordOp, o?: { until?: 'written' | 'merged'; onMerged?: () => void }): Promise<void>
  on(event: 'change', listener: (ids: Set<string>) => void): unknown
  /**
   * Whether the table has read the log about as far as it goes now (record-log.ts). A node
   * catching up reads a record's request long before its outcome and its dismissal: purged
   * between the two, a download its user had made was told as "expired before it was made"
   * (operator trials: a wiped node; a node back as a new member, just after a fast-forward of
   * its view by 253 blocks). @default always
   */
  caughtUp?(): boolean
}

export interface LogRepositoryOptions {
  log: OpLog
  /** Record time: cluster time on a node, a fake clock in tests. */
  time: Pick<Clock, 'now'>
  /** How long a dismissal outlives the record, so late writes cannot revive it. */
  tombstoneMs: number
  /**
   * Whether record time can be trusted to purge on. A node that has not yet compared its clock
   * with any other member's may be hours off, and a purge cannot be undone: it waits.
   * @default always
   */
  mayPurge?: () => boolean
}

export class LogRepository extends EventEmitter<RepositoryEvents> implements DownloadRepository {
  private readonly log: OpLog
  private readonly time: Pick<Clock, 'now'>
  private readonly tombstoneMs: number
  private readonly mayPurge: () => boolean
  /** Each user's insert in progress, so two requests of one user on this node queue. */
  private readonly inserting = new Map<string, Promise<unknown>>()

  constructor({ log, time, tombstoneMs, mayPurge = () => true }: LogRepositoryOptions) {
    super()
    this.log = log
    this.time = time
    this.tombstoneMs = tombstoneMs
    this.mayPurge = mayPurge
    log.on('change', (ids) => {
      const users = new Set<string>()
      for (const id of ids) {
        const entry = log.table.entries.get(id)
        if (entry) users.add(entry.download.userId)
      }
      if (users.size > 0) this.emit('change', users)
    })
  }

  now(): number {
    return this.time.now()
  }

  get(id: string): Download | null {
    return get(this.log.table, id, this.now())
  }

  forUser(userId: string): Download | null {
    return currentFor(this.log.table, userId, this.now())
  }

  ofUser(userId: string): Download[] {
    return visibleOf(this.log.table, userId, this.now())
  }

  all(): Download[] {
    return visibleRecords(this.log.table, this.now())
  }

  insert(download: Download): Promise<InsertResult> {
    // Serialised per user, so two requests of one user racing on this node cannot both pass
    // the check; different users' inserts go out together (one batch, log-base.ts).
    const { userId } = download
    const run = (this.inserting.get(userId) ?? Promise.resolve()).then(
      async (): Promise<InsertResult> => {
        const existing = this.forUser(userId)
        if (existing) return { inserted: false, existing }
        await this.append({ type: 'put', download }, 'merged')
        return { inserted: true }
      },
    )
    const settled = run.catch(() => {})
    this.inserting.set(userId, settled)
    void settled.then(() => {
      if (this.inserting.get(userId) === settled) this.inserting.delete(userId)
    })
    return run
  }

  async update(
    download: Download,
    merged?: (winner: Download | null) => void,
  ): Promise<Download | null> {
    const onMerged = merged && (() => merged(this.get(download.id)))
    await this.append({ type: 'put', download }, 'written', onMerged)
    return this.get(download.id)
  }

  async remove(download: Download): Promise<void> {
    const at = this.now()
    const expiresAt = Math.max(at, download.expiresAt) + this.tombstoneMs
    const { id, userId } = download
    await this.append({ type: 'remove', id, userId, at, expiresAt }, 'merged')
  }

  /**
   * Every node's apply drops an operation that does not parse, so writing one would be lost
   * silently: refuse it here, loudly, instead.
   */
  private async append(
    op: RecordOp,
    until: 'written' | 'merged',
    onMerged?: () => void,
  ): Promise<void> {
    if (!parseOp(op)) throw new InvalidRecordError(op)
    await this.log.append(op, { until, ...(onMerged && { onMerged }) })
  }

  servable(id: string): Download | null {
    return servable(this.log.table, id, this.now())
  }

  purge(): Released[] {
    if (!this.mayPurge() || this.log.caughtUp?.() === false) return []
    return purge(this.log.table, this.now())
  }
}
