/**
 * The download manager: the small public contract the web layer uses (request, dismiss,
 * current, subscribe, open a file), and the supervisor that runs a worker for every live
 * record this node owns, including the ones it finds in its store after a restart.
 */
import { nanoid } from 'nanoid'
import type { Download } from '../store/record.ts'
import { isLive } from '../store/record.ts'
import type { DownloadRepository } from '../store/repository.ts'
import type { FileStore, StoredFile } from '../store/file-store.ts'
import type { Generator } from './generator.ts'
import type { Logger } from '../logger.ts'
import { Worker } from './worker.ts'

export interface NodeRef {
  id: string
  name: string
}

export interface ManagerOptions {
  repo: DownloadRepository
  files: FileStore
  generator: Generator
  self: NodeRef
  /** Picks the node that will run a new download's worker. */
  placement: (userId: string) => NodeRef
  now: () => number
  retentionMs: number
  liveTtlMs: number
  checkpointStep: number
  purgeIntervalMs: number
  log: Logger
}

export type Listener = (download: Download | null) => void

export class DownloadManager {
  private readonly workers = new Map<string, Worker>()
  /** Progress newer than the last checkpoint, per download id, as workers report it. */
  private readonly live = new Map<string, number>()
  private readonly listeners = new Map<string, Set<Listener>>()
  private readonly lastSent = new Map<string, string>()
  private readonly prefetched = new Set<string>()
  private purgeTimer: NodeJS.Timeout | null = null
  private closed = false

  constructor(private readonly o: ManagerOptions) {
    o.repo.on('change', (users) => this.onChange(users))
  }

  start(): void {
    this.onChange(new Set(this.o.repo.all().map((d) => d.userId)))
    this.purgeTimer = setInterval(() => this.sweep(), this.o.purgeIntervalMs)
    this.purgeTimer.unref()
  }

  /** The user's download as a client should see it, with the freshest progress known here. */
  current(userId: string): Download | null {
    const d = this.o.repo.forUser(userId)
    if (!d) return null
    const progress = this.live.get(d.id)
    return progress !== undefined && isLive(d) && progress > d.progress ? { ...d, progress } : d
  }

  async request(userId: string): Promise<Download> {
    if (this.closed) throw new Error('This node is shutting down; try again in a moment.')
    const now = this.o.now()
    const owner = this.o.placement(userId)
    const download: Download = {
      id: nanoid(),
      userId,
      state: 'pending',
      progress: 0,
      fileUrl: null,
      file: null,
      error: null,
      owner: owner.id,
      ownerName: owner.name,
      epoch: 1,
      version: 1,
      createdAt: now,
      updatedAt: now,
      finishedAt: null,
      expiresAt: now + this.o.liveTtlMs,
      checkpoint: null,
    }
    await this.o.repo.insert(download)
    this.o.log.info('request', { id: download.id, user: userId, owner: owner.name })
    return download
  }

  /** Clears the user's download (cancelling it if it still runs). Returns what was dismissed. */
  async dismiss(userId: string): Promise<Download | null> {
    const d = this.o.repo.forUser(userId)
    if (!d) return null
    await this.o.repo.remove(d)
    this.o.log.info('dismiss', { id: d.id, user: userId, state: d.state })
    return d
  }

  /** The file of a ready download, for its own user only; null if unknown, expired or foreign. */
  async openFile(
    id: string,
    userId: string,
  ): Promise<{ download: Download; file: StoredFile | null } | null> {
    const d = this.o.repo.servable(id)
    if (!d || d.userId !== userId || !d.file) return null
    return { download: d, file: await this.o.files.open(d.file) }
  }

  subscribe(userId: string, listener: Listener): () => void {
    let set = this.listeners.get(userId)
    if (!set) this.listeners.set(userId, (set = new Set()))
    set.add(listener)
    return () => {
      set.delete(listener)
      if (set.size === 0) {
        this.listeners.delete(userId)
        this.lastSent.delete(userId)
      }
    }
  }

  /** Live downloads this node is running now. */
  get running(): number {
    return this.workers.size
  }

  private onChange(users: Set<string>): void {
    if (this.closed) return
    for (const userId of users) {
      this.supervise(userId)
      this.notify(userId)
    }
  }

  /** Starts, or stops, this node's workers for one user so they match the log. */
  private supervise(userId: string): void {
    const current = this.o.repo.forUser(userId)
    // Copy every ready file here as soon as it exists, so it outlives the node that made it.
    if (current?.file && !this.prefetched.has(current.id)) {
      this.prefetched.add(current.id)
      this.o.files.prefetch(current.file)
    }
    for (const worker of this.workers.values()) {
      if (worker.userId !== userId) continue
      const d = this.o.repo.get(worker.id)
      if (!d) worker.stop('dismissed')
      else if (d.epoch > worker.epoch) worker.stop('fenced')
    }
    if (!current || !isLive(current) || current.owner !== this.o.self.id) return
    if (this.workers.has(current.id)) return
    const worker = new Worker({
      download: current,
      generator: this.o.generator,
      repo: this.o.repo,
      files: this.o.files,
      nodeName: this.o.self.name,
      now: this.o.now,
      liveTtlMs: this.o.liveTtlMs,
      retentionMs: this.o.retentionMs,
      checkpointStep: this.o.checkpointStep,
      log: this.o.log,
      onProgress: (d, progress) => {
        this.live.set(d.id, progress)
        this.notify(d.userId)
      },
    })
    this.workers.set(current.id, worker)
    void worker.done.then(() => {
      this.workers.delete(current.id)
      this.live.delete(current.id)
    })
  }

  private notify(userId: string): void {
    const set = this.listeners.get(userId)
    if (!set) return
    const view = this.current(userId)
    const key = JSON.stringify(view)
    if (this.lastSent.get(userId) === key) return
    this.lastSent.set(userId, key)
    for (const listener of set) {
      try {
        listener(view)
      } catch (err) {
        this.o.log.error('listener-failed', { user: userId, error: (err as Error).message })
      }
    }
  }

  /** Runs every second: purges what expired, and restarts any owned download left without a worker. */
  private sweep(): void {
    this.purge()
    try {
      const users = new Set<string>()
      for (const d of this.o.repo.all()) {
        if (isLive(d) && d.owner === this.o.self.id && !this.workers.has(d.id)) users.add(d.userId)
      }
      for (const userId of users) this.supervise(userId)
    } catch (err) {
      this.o.log.error('sweep-failed', { error: (err as Error).message })
    }
  }

  private purge(): void {
    try {
      for (const d of this.o.repo.purge()) {
        this.workers.get(d.id)?.stop('expired')
        this.prefetched.delete(d.id)
        if (d.file) {
          this.o.files.remove(d.file).catch((err: Error) => {
            this.o.log.error('purge-failed', { id: d.id, error: err.message })
          })
        }
        this.o.log.info('purged', { id: d.id, user: d.userId, state: d.state })
        this.notify(d.userId)
      }
    } catch (err) {
      this.o.log.error('purge-failed', { error: (err as Error).message })
    }
  }

  /** Stops every worker, writing its newest progress first. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.purgeTimer) clearInterval(this.purgeTimer)
    await Promise.all([...this.workers.values()].map((w) => w.stopAndCheckpoint()))
  }
}
