/**
 * Files beside the log: each node keeps the files it makes, and the copies it keeps of its
 * peers' files, as plain files in its data directory, and copies them over the cluster's links
 * (cluster/file-transfer.ts). Before v8 they were blobs in a hyperblobs core per node, and
 * replicating those through hypercore (a signed, hashed block per file, its proofs, its range
 * messages, a RocksDB write at each peer for each) cost more CPU than anything a download does
 * but the log; purged, they took disk back only once RocksDB compacted. Here a purge unlinks
 * the file. Records of files made before still point to blobs, served by the BlobFileStore.
 *
 * A file is written as `<name>.part`, synced, and renamed to `<name>`: a file under its name is
 * whole. A copy is checked against the size and SHA-256 its record carries before it is.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { nanoid } from 'nanoid'
import { systemClock, type Clock, type Timer } from '../clock.ts'
import type { Fields, Logger } from '../logger.ts'
import { FileFetch, NoHolderError, arriving, type FilePeers } from './file-fetch.ts'
import { DirSync } from './dir-sync.ts'
import { OpenFile, removeFile, removeQuietly, renameFile, sizeOf } from './file-io.ts'
import { nextUnlessAborted } from '../abortable.ts'

export type { FilePeers } from './file-fetch.ts'
import { CopyQueue } from './copy-queue.ts'
import { isBlobRef, FILE_NAME, type DiskFileRef, type FileRef } from './record.ts'
import {
  bytesOf,
  SourceStreamError,
  StoreError,
  type BlobFileStore,
  type FileStore,
  type StoredFile,
} from './file-store.ts'

/** How often a copy that found no holder is tried again, until `copyGiveUpMs`. */
const COPY_RETRY_MS = 2000
/**
 * Copies made ahead of need (a keeper's) that run at once; the rest wait. A page's request
 * never waits behind them. A new keeper (a member died) may have thousands to make.
 */
const COPIES_AT_ONCE = 4
/** How long a removed file's name is refused, so that no copy under way brings it back. */
const GONE_MS = 10 * 60_000

export interface DiskFileStoreOptions {
  /** The files directory. */
  dir: string
  /** This node's member id, which the files it makes name as their maker. */
  self: string
  /** Where the files of records written before v8 are (null: nowhere). */
  blobs?: BlobFileStore | null
  /** How long a request waits for the first bytes of a file held only by peers. @default 3000 */
  fetchTimeoutMs?: number
  /** How long a copy keeps looking for a node that holds the file. @default 60000 */
  copyGiveUpMs?: number
  clock?: Clock
  log?: Logger
  /** A file held only by peers did not arrive in time. */
  onUnreachable?: (fields: Fields) => void
}

export class DiskFileStore implements FileStore {
  private peers: FilePeers | null = null
  private readonly fetches = new Map<string, FileFetch>()
  /** Copies ahead of need (a keeper's). */
  private readonly ahead: CopyQueue
  /** Names removed lately, with when. */
  private readonly gone = new Map<string, number>()
  private closed = false
  private readonly fetchTimeoutMs: number
  private readonly copyGiveUpMs: number
  private readonly clock: Clock
  private readonly dirSync: DirSync

  constructor(private readonly o: DiskFileStoreOptions) {
    this.dirSync = new DirSync(o.dir)
    this.fetchTimeoutMs = o.fetchTimeoutMs ?? 3000
    this.copyGiveUpMs = o.copyGiveUpMs ?? 60_000
    this.clock = o.clock ?? systemClock
    this.ahead = new CopyQueue({
      clock: this.clock,
      atOnce: COPIES_AT_ONCE,
      retryMs: COPY_RETRY_MS,
      onError: (file, err) => this.o.log?.error('file-copy-failed', { file, error: err.message }),
    })
  }

  /** Creates the directory and removes the parts a crash left behind. */
  async ready(): Promise<void> {
    await mkdir(this.o.dir, { recursive: true })
    for (const name of await readdir(this.o.dir)) {
      if (name.endsWith('.part')) await rm(join(this.o.dir, name), { force: true })
    }
  }

  /** The nodes to copy files from: set once the cluster's links exist. */
  attach(peers: FilePeers): void {
    this.peers = peers
  }

  private path(name: string): string {
    return join(this.o.dir, name)
  }

  /**
   * Where the file a peer asks for would be here, or null for a name no file has. Whether it is
   * there, opening it says: a look first was one more call per window sent.
   */
  async pathOf(name: string): Promise<string | null> {
    return FILE_NAME.test(name) ? this.path(name) : null
  }

  async put(bytes: Buffer): Promise<DiskFileRef> {
    return this.putStream(Readable.from([bytes]))
  }

  async putStream(source: Readable, signal?: AbortSignal): Promise<DiskFileRef> {
    if (this.closed) throw new StoreError(new Error('file store is closed'))
    const name = nanoid()
    const part = this.path(`${name}.part`)
    const hash = createHash('sha256')
    let size = 0
    try {
      // One descriptor from the first byte to the sync (file-io.ts says why the calls are sync).
      let file: OpenFile
      try {
        file = OpenFile.create(part)
      } catch (err) {
        throw new StoreError(err)
      }
      try {
        // Read through bytesOf only: what fails there is the job's. An abort ends the wait for
        // the next chunk at once, even from a stream that never yields again (a pipeline did).
        const chunks = bytesOf(source)[Symbol.asyncIterator]()
        try {
          for (;;) {
            const next = await nextUnlessAborted(chunks, signal)
            if (next.done) break
            const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value
            hash.update(chunk)
            try {
              await file.write(chunk, size)
            } catch (err) {
              throw new StoreError(err)
            }
            size += chunk.length
          }
        } catch (err) {
          source.destroy() // not waited for: a stuck job's stream may never finish closing
          throw err
        }
        signal?.throwIfAborted()
        await file.datasync()
      } finally {
        file.close()
      }
      await this.name(part, name)
    } catch (err) {
      removeQuietly(part)
      if (signal?.aborted) throw signal.reason
      throw err instanceof StoreError || err instanceof SourceStreamError
        ? err
        : new StoreError(err)
    }
    return { node: this.o.self, name, byteLength: size, sha256: hash.digest('hex') }
  }

  /**
   * Gives a synced part its name, and syncs the directory: until then a power cut may undo
   * the rename, and the part would be removed as a crash's leftover.
   */
  private async name(part: string, name: string): Promise<string> {
    const path = this.path(name)
    renameFile(part, path)
    await this.dirSync.sync()
    return path
  }

  async open(ref: FileRef): Promise<StoredFile | null> {
    if (isBlobRef(ref)) return (await this.o.blobs?.open(ref)) ?? null
    if (this.closed) return null
    const path = this.path(ref.name)
    if (await this.whole(ref)) return local(path, ref.byteLength)
    const fetch = this.fetch(ref)
    // Served as it arrives once a peer has sent the first bytes: a large file would not
    // arrive whole within the timeout.
    let timer: Timer | undefined
    const started = await Promise.race([
      (async () => {
        while (fetch.ok === null && fetch.written === 0) await fetch.changed()
        return fetch.ok !== false
      })(),
      new Promise<false>(
        (resolve) => (timer = this.clock.setTimeout(() => resolve(false), this.fetchTimeoutMs)),
      ),
    ])
    this.clock.clearTimeout(timer)
    if (!started || fetch.ok === false) {
      this.o.onUnreachable?.({
        file: ref.name,
        maker: ref.node,
        error: fetch.error?.message ?? `no bytes within ${this.fetchTimeoutMs} ms`,
      })
      return null
    }
    if (fetch.ok) return local(path, ref.byteLength)
    return {
      size: ref.byteLength,
      stream: (range) =>
        Readable.from(arriving(fetch, path, range?.start ?? 0, range?.end ?? ref.byteLength - 1)),
    }
  }

  /**
   * Copies a peer's file here ahead of need, a few at a time, trying again every few seconds
   * for `copyGiveUpMs` while no node holding it is reachable.
   */
  prefetch(ref: FileRef): void {
    if (isBlobRef(ref)) return this.o.blobs?.prefetch(ref)
    if (this.closed || this.gone.has(ref.name)) return
    const until = this.clock.now() + this.copyGiveUpMs
    this.ahead.add(ref.name, async () => {
      if (this.closed || this.gone.has(ref.name) || (await this.whole(ref))) return
      const fetch = this.fetch(ref)
      if (!(await fetch.result()) && !fetch.abort.signal.aborted && !this.closed) {
        // No node holding it was reachable: its maker may be back, or a copy made, shortly.
        if (this.clock.now() < until) return 'again'
        this.o.log?.warn('file-copy-gave-up', {
          file: ref.name,
          maker: ref.node,
          afterMs: this.copyGiveUpMs,
          error: fetch.error?.message,
        })
      }
    })
  }

  async holds(ref: FileRef): Promise<boolean> {
    if (isBlobRef(ref)) return (await this.o.blobs?.holds(ref)) ?? false
    return this.whole(ref)
  }

  /**
   * Whether the file is here, whole. One of another size was cut short by a crash before its
   * bytes reached the disk: it is removed, and fetched again from a node that holds it.
   */
  private async whole(ref: DiskFileRef): Promise<boolean> {
    const path = this.path(ref.name)
    const size = sizeOf(path)
    if (size === null) return false
    if (size === ref.byteLength) return true
    await removeFile(path)
    return false
  }

  /** Frees this node's copy; a copy of it under way here is stopped and leaves nothing. */
  async remove(ref: FileRef): Promise<void> {
    if (isBlobRef(ref)) return this.o.blobs?.remove(ref)
    // Kept in the order removed: the old ones are at the front.
    const now = this.clock.now()
    for (const [name, at] of this.gone) {
      if (now - at <= GONE_MS) break
      this.gone.delete(name)
    }
    this.gone.delete(ref.name)
    this.gone.set(ref.name, now)
    this.ahead.cancel(ref.name)
    const fetch = this.fetches.get(ref.name)
    if (fetch) {
      fetch.abort.abort()
      await fetch.settled
    }
    await removeFile(this.path(ref.name))
  }

  /**
   * Removes the files no record points to any more (`kept` says which are still pointed to),
   * once older than `graceMs`: a file whose record failed to be written, or whose purge this
   * node missed (it was down while the record expired and the log was compacted). Returns how
   * many it removed.
   */
  async sweep(kept: (name: string) => boolean, graceMs: number): Promise<number> {
    let removed = 0
    const now = Date.now()
    for (const name of await readdir(this.o.dir)) {
      if (!FILE_NAME.test(name) || kept(name) || this.fetches.has(name)) continue
      const path = this.path(name)
      const st = await stat(path).catch(() => null)
      if (!st || now - st.mtimeMs < graceMs) continue
      await rm(path, { force: true })
      removed++
    }
    return removed
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.ahead.close()
    for (const f of this.fetches.values()) f.abort.abort()
    await Promise.all([...this.fetches.values()].map((f) => f.settled))
    try {
      await this.dirSync.close()
    } finally {
      await this.o.blobs?.close()
    }
  }

  /** The copy of this file under way here, started if there is none. */
  private fetch(ref: DiskFileRef): FileFetch {
    const running = this.fetches.get(ref.name)
    if (running) return running
    const f = new FileFetch()
    this.fetches.set(ref.name, f)
    if (this.closed || this.gone.has(ref.name)) {
      this.fetches.delete(ref.name)
      f.done(new Error(this.closed ? 'the file store is closed' : 'the file was removed'))
      return f
    }
    const part = this.path(`${ref.name}.part`)
    const copied = this.peers
      ? f.copy(this.peers, ref, part, () => this.name(part, ref.name))
      : Promise.reject(new NoHolderError('not linked to the cluster yet'))
    void copied.then(
      () => {
        this.fetches.delete(ref.name)
        f.done(null)
      },
      (err: Error) => {
        this.fetches.delete(ref.name)
        // No holder reachable yet (a node just started, its maker down) is retried, and
        // reported by whoever gives up; logged each time, it looked like a failure.
        if (!f.abort.signal.aborted && !(err instanceof NoHolderError))
          this.o.log?.warn('file-copy-failed', {
            file: ref.name,
            maker: ref.node,
            error: err.message,
          })
        f.done(err)
      },
    )
    return f
  }
}

function local(path: string, size: number): StoredFile {
  return { size, stream: (range) => createReadStream(path, range ?? {}) }
}
