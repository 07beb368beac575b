/**
 * The download repository: the only way the worker and the web layer read or write records.
 * It mirrors the seed's API (fetch by user, insert, update, remove) over the record log, so
 * nothing above this file knows about autobase.
 */
import { EventEmitter } from 'node:events'
import type { Download } from './record.ts'
import { currentFor, get, purge, servable, visibleRecords } from './record-table.ts'
import type { RecordLog } from './record-log.ts'

export class DownloadConflictError extends Error {
  constructor(readonly existing: Download) {
    super('You already have a download in progress; dismiss it before requesting another.')
    this.name = 'DownloadConflictError'
  }
}

export interface RepositoryEvents {
  /** Records changed; the argument holds the user ids whose records were touched. */
  change: [userIds: Set<string>]
}

export interface DownloadRepository extends EventEmitter<RepositoryEvents> {
  get(id: string): Download | null
  forUser(userId: string): Download | null
  all(): Download[]
  /** Refused with DownloadConflictError while the user has a download. */
  insert(download: Download): Promise<Download>
  /** Writes a new version; resolves to the record that won the merge (maybe not this one). */
  update(download: Download): Promise<Download | null>
  /** Dismisses a record: it disappears everywhere, whatever is written to it later. */
  remove(download: Download): Promise<void>
  /** A ready record whose file may be served (dismissed or not), until it expires. */
  servable(id: string): Download | null
  /** Forgets what expired; returns the records whose files may be deleted. */
  purge(): Download[]
}

export interface LogRepositoryOptions {
  log: RecordLog
  now: () => number
  /** How long a dismissal outlives the record, so late writes cannot revive it. */
  tombstoneMs: number
}

export class LogRepository extends EventEmitter<RepositoryEvents> implements DownloadRepository {
  private readonly log: RecordLog
  private readonly now: () => number
  private readonly tombstoneMs: number
  private inserting: Promise<unknown> = Promise.resolve()

  constructor({ log, now, tombstoneMs }: LogRepositoryOptions) {
    super()
    this.log = log
    this.now = now
    this.tombstoneMs = tombstoneMs
    log.on('change', (ids) => {
      const users = new Set<string>()
      for (const id of ids) {
        const entry = log.table.entries.get(id)
        if (entry) users.add(entry.download.userId)
      }
      if (users.size > 0) this.emit('change', users)
    })
  }

  get(id: string): Download | null {
    return get(this.log.table, id, this.now())
  }

  forUser(userId: string): Download | null {
    return currentFor(this.log.table, userId, this.now())
  }

  all(): Download[] {
    return visibleRecords(this.log.table, this.now())
  }

  insert(download: Download): Promise<Download> {
    // Serialised so two requests racing on this node cannot both pass the check.
    const run = this.inserting.then(async () => {
      const existing = this.forUser(download.userId)
      if (existing) throw new DownloadConflictError(existing)
      await this.log.append({ type: 'put', download })
      return download
    })
    this.inserting = run.catch(() => {})
    return run
  }

  async update(download: Download): Promise<Download | null> {
    await this.log.append({ type: 'put', download })
    return this.get(download.id)
  }

  async remove(download: Download): Promise<void> {
    const at = this.now()
    await this.log.append({
      type: 'remove',
      id: download.id,
      userId: download.userId,
      at,
      expiresAt: Math.max(at, download.expiresAt) + this.tombstoneMs,
    })
  }

  servable(id: string): Download | null {
    return servable(this.log.table, id, this.now())
  }

  purge(): Download[] {
    return purge(this.log.table, this.now())
  }
}
