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
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { nanoid } from 'nanoid'
import { systemClock, type Clock, type Timer } from '../clock.ts'
import type { Fields } from '../logger.ts'
import { isBlobRef, FILE_NAME, type DiskFileRef, type FileRef } from './record.ts'
import {
  bytesOf,
  SourceStreamError,
  StoreError,
  type BlobFileStore,
  type FileStore,
  type StoredFile,
} from './file-store.ts'

/** The nodes that may hold a file, as this store reaches them (cluster/file-transfer.ts). */
export interface FilePeers {
  /**
   * Hands the file's bytes to `write`, in order, each chunk awaited before more are asked for;
   * resolves once the whole file has been handed over, rejects if no node holding it can be
   * reached (or the signal is aborted).
   */
  fetch(
    ref: DiskFileRef,
    write: (chunk: Buffer) => Promise<void>,
    signal: AbortSignal,
  ): Promise<void>
}

/** How often a copy that found no holder is tried again, until `copyGiveUpMs`. */
const COPY_RETRY_MS = 2000
/** Chunks a file is read in while it is still arriving. */
const CHUNK_BYTES = 64 * 1024

export interface DiskFileStoreOptions {
  /** The files directory. */
  dir: string
  /** This node's member id, which the files it makes name as their maker. */
  self: string
  /** Where the files of records written before v8 are (null: nowhere, a fresh node). */
  blobs?: BlobFileStore | null
  /** How long a request waits for the first bytes of a file held only by peers. @default 3000 */
  fetchTimeoutMs?: number
  /** How long a copy keeps looking for a node that holds the file. @default 60000 */
  copyGiveUpMs?: number
  clock?: Clock
  /** A file held only by peers did not arrive in time. */
  onUnreachable?: (fields: Fields) => void
}

/** A copy of a peer's file under way: how much of it is written, and whether it is done. */
class Fetch {
  written = 0
  /** Null while under way; then whether the whole file is here. */
  ok: boolean | null = null
  error: Error | null = null
  readonly abort = new AbortController()
  private waiters: (() => void)[] = []

  /** Resolves at the next chunk written, or once the fetch is done. */
  changed(): Promise<void> {
    if (this.ok !== null) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  notify(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }
}

export class DiskFileStore implements FileStore {
  private peers: FilePeers | null = null
  private readonly fetches = new Map<string, Fetch>()
  /** Copies still looking for a holder: cancelled by a removal or close. */
  private readonly copies = new Map<string, Timer>()
  private closed = false
  private readonly fetchTimeoutMs: number
  private readonly copyGiveUpMs: number
  private readonly clock: Clock

  constructor(private readonly o: DiskFileStoreOptions) {
    this.fetchTimeoutMs = o.fetchTimeoutMs ?? 3000
    this.copyGiveUpMs = o.copyGiveUpMs ?? 60_000
    this.clock = o.clock ?? systemClock
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

  /** Where a whole file this node holds is, or null (for the peers that ask for it). */
  async pathOf(name: string): Promise<string | null> {
    if (!FILE_NAME.test(name)) return null
    const path = this.path(name)
    return (await exists(path)) ? path : null
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
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk)
        size += chunk.length
        done(null, chunk)
      },
    })
    try {
      try {
        // Read through bytesOf only (leaving it destroys the stream): what fails there is the job's.
        await pipeline(bytesOf(source), count, createWriteStream(part), { signal })
      } catch (err) {
        if (signal?.aborted) throw signal.reason
        if (err instanceof SourceStreamError) throw err
        throw new StoreError(err)
      }
      await this.settle(part, name).catch((err: unknown) => {
        throw new StoreError(err)
      })
    } catch (err) {
      await rm(part, { force: true }).catch(() => {})
      throw err
    }
    return { node: this.o.self, name, byteLength: size, sha256: hash.digest('hex') }
  }

  /** Syncs a part to the disk and gives it its name: whole, from then on, after a crash too. */
  private async settle(part: string, name: string): Promise<void> {
    const fh = await open(part, 'r+')
    try {
      await fh.datasync()
    } finally {
      await fh.close()
    }
    await rename(part, this.path(name))
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

  prefetch(ref: FileRef): void {
    if (isBlobRef(ref)) return this.o.blobs?.prefetch(ref)
    if (this.closed || this.copies.has(ref.name)) return
    const until = this.clock.now() + this.copyGiveUpMs
    const attempt = async () => {
      this.copies.delete(ref.name)
      if (this.closed || (await this.whole(ref))) return
      const fetch = this.fetch(ref)
      while (fetch.ok === null) await fetch.changed()
      // No node holding it was reachable: its maker may be back, or a copy made, shortly.
      if (!fetch.ok && !fetch.abort.signal.aborted && !this.closed && this.clock.now() < until)
        this.copies.set(
          ref.name,
          this.clock.setTimeout(() => void attempt(), COPY_RETRY_MS),
        )
    }
    void attempt()
  }

  async holds(ref: FileRef): Promise<boolean> {
    if (isBlobRef(ref)) return (await this.o.blobs?.holds(ref)) ?? false
    return this.whole(ref)
  }

  /**
   * Whether the file is here, whole. One of another size was cut short by a crash before its
   * bytes reached the disk (a power cut can leave a renamed file empty): it is removed, and
   * fetched again from a node that holds it.
   */
  private async whole(ref: DiskFileRef): Promise<boolean> {
    const path = this.path(ref.name)
    const size = await stat(path).then(
      (st) => st.size,
      () => null,
    )
    if (size === null) return false
    if (size === ref.byteLength) return true
    await rm(path, { force: true })
    return false
  }

  async remove(ref: FileRef): Promise<void> {
    if (isBlobRef(ref)) return this.o.blobs?.remove(ref)
    const copy = this.copies.get(ref.name)
    if (copy) this.clock.clearTimeout(copy)
    this.copies.delete(ref.name)
    this.fetches.get(ref.name)?.abort.abort()
    await rm(this.path(ref.name), { force: true })
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const timer of this.copies.values()) this.clock.clearTimeout(timer)
    this.copies.clear()
    for (const f of this.fetches.values()) f.abort.abort()
    await this.o.blobs?.close()
  }

  /** The copy of this file under way here, started if there is none. */
  private fetch(ref: DiskFileRef): Fetch {
    const running = this.fetches.get(ref.name)
    if (running) return running
    const f = new Fetch()
    this.fetches.set(ref.name, f)
    void this.copy(ref, f)
      .then(
        () => (f.ok = true),
        (err: Error) => {
          f.ok = false
          f.error = err
        },
      )
      .finally(() => {
        this.fetches.delete(ref.name)
        f.notify()
      })
    return f
  }

  private async copy(ref: DiskFileRef, f: Fetch): Promise<void> {
    if (!this.peers) throw new Error('not linked to the cluster yet')
    const part = this.path(`${ref.name}.part`)
    const fh = await open(part, 'w')
    const hash = createHash('sha256')
    try {
      await this.peers.fetch(
        ref,
        async (chunk) => {
          if (f.written + chunk.length > ref.byteLength)
            throw new Error('longer than its record says')
          await fh.write(chunk, 0, chunk.length, f.written)
          hash.update(chunk)
          f.written += chunk.length
          f.notify()
        },
        f.abort.signal,
      )
      if (f.written !== ref.byteLength) throw new Error(`${f.written} bytes of ${ref.byteLength}`)
      if (hash.digest('hex') !== ref.sha256) throw new Error('its bytes do not match its record')
      await fh.datasync()
      await fh.close()
      await rename(part, this.path(ref.name))
    } catch (err) {
      await fh.close().catch(() => {})
      await rm(part, { force: true }).catch(() => {})
      throw err
    }
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

function local(path: string, size: number): StoredFile {
  return { size, stream: (range) => createReadStream(path, range ?? {}) }
}

/**
 * Bytes `start` to `end` (inclusive) of a file still arriving, read from its part as they are
 * written; fails if the copy does.
 */
async function* arriving(f: Fetch, path: string, start: number, end: number) {
  // A part renamed once whole stays readable through a handle opened before.
  const fh = await open(f.ok ? path : `${path}.part`, 'r')
    .catch(() => open(path, 'r'))
    .catch((err: unknown) => {
      throw f.ok === false ? (f.error ?? err) : err
    })
  try {
    let at = start
    while (at <= end) {
      if (at >= f.written) {
        if (f.ok === false) throw f.error ?? new Error('the copy failed')
        if (f.ok === true) break // a range past the end
        await f.changed()
        continue
      }
      const n = Math.min(CHUNK_BYTES, f.written - at, end + 1 - at)
      const buf = Buffer.allocUnsafe(n)
      const { bytesRead } = await fh.read(buf, 0, n, at)
      if (bytesRead === 0) throw new Error('the copy shrank while it was read')
      at += bytesRead
      yield buf.subarray(0, bytesRead)
    }
    // Ended only once the copy checks out: a copy that does not match its record fails the
    // response rather than complete it.
    while (f.ok === null) await f.changed()
    if (f.ok === false) throw f.error ?? new Error('the copy failed')
  } finally {
    await fh.close()
  }
}
