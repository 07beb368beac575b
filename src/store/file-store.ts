/**
 * Generated files, in the cluster's replicated storage: each node appends the files it makes
 * to a hyperblobs core of its own, in the same corestore as the log, so they replicate over
 * the same connections. A record points to its file by core key and blob id; any node can
 * serve it, fetching it from a peer if it must, also after the generating node has died,
 * once it has been replicated (the nodes next in line copy each ready file: placement.ts).
 */
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Hyperblobs from 'hyperblobs'
import type Corestore from 'corestore'
import type Hypercore from 'hypercore'
import { systemClock, type Clock, type Timer } from '../clock.ts'
import type { BlobRef, FileRef } from './record.ts'
import { FileCopies } from './file-copies.ts'
import { installPeerRangeFix } from './peer-range-fix.ts'
import { replicationOf } from './replication-state.ts'
import type { Fields } from '../logger.ts'

export type { BlobRef, FileRef } from './record.ts'

// Peers clear the files of purged downloads; without this, a file appended just before its
// maker's first purge may never be fetched from it (peer-range-fix.ts). Installed before any
// store opens, so that every replication peer has it.
installPeerRangeFix()

export interface StoredFile {
  size: number
  /** The file, or the bytes `start` to `end` (inclusive) of it: read as they are sent. */
  stream(range?: { start: number; end: number }): Readable
}

/** The store could not take a file (the disk, the core): not the generator's fault. */
export class StoreError extends Error {
  constructor(override readonly cause: unknown) {
    super(`the file store failed: ${cause instanceof Error ? cause.message : String(cause)}`)
  }
}

/** The stream a generator returned failed while it was being stored: the generator's fault. */
export class SourceStreamError extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause))
  }
}

/**
 * The generator's stream yielded something that is not bytes: its code's shape, so trying
 * again makes the same (worker.ts fails the download at once).
 */
export class WrongChunkError extends SourceStreamError {}

/** How long a copy of a peer's files may take before it is dropped (file-copies.ts). */
const COPY_GIVE_UP_MS = 60_000

/** Blocks of a stored file: hyperblobs' own block size. */
const BLOCK_BYTES = 64 * 1024

/** What a store of files does; `R` is the kind of reference it gives and takes. */
export interface FileStore<R extends FileRef = FileRef> {
  put(bytes: Buffer): Promise<R>
  /**
   * Stores a stream as it comes, never whole in memory (it is spooled to the disk first);
   * rejects with SourceStreamError if the stream fails, StoreError if the store does, or the
   * signal's reason once it is aborted, and then has stored nothing.
   */
  putStream(source: Readable, signal?: AbortSignal): Promise<R>
  /** Null when the file cannot be had within the fetch timeout (no peer holding it is reachable). */
  open(ref: R): Promise<StoredFile | null>
  /** Starts copying a file here, so it outlives the node that made it. */
  prefetch(ref: R): void
  /** Whether this node holds the whole file (made or copied here). */
  holds(ref: R): Promise<boolean>
  /** Frees this node's copy. */
  remove(ref: R): Promise<void>
  close(): Promise<void>
}

export interface BlobFileStoreOptions {
  /** Where streamed files wait before they are stored. @default a fresh temporary directory */
  spoolDir?: string
  /** How long a request waits for a file held only by peers. @default 3000 */
  fetchTimeoutMs?: number
  clock?: Clock
  /** A file held only by peers did not arrive in time: what replication looked like. */
  onUnreachable?: (fields: Fields) => void
}

export class BlobFileStore implements FileStore<BlobRef> {
  private readonly cores = new Map<string, { core: Hypercore; blobs: Hyperblobs }>()
  private own: { core: Hypercore; blobs: Hyperblobs } | null = null
  private closed = false
  private readonly copies: FileCopies

  private readonly fetchTimeoutMs: number
  private readonly onUnreachable: ((fields: Fields) => void) | undefined
  private readonly clock: Clock
  private readonly spoolPath: string | undefined

  constructor(
    private readonly store: Corestore,
    {
      fetchTimeoutMs = 3000,
      clock = systemClock,
      spoolDir,
      onUnreachable,
    }: BlobFileStoreOptions = {},
  ) {
    this.onUnreachable = onUnreachable
    this.fetchTimeoutMs = fetchTimeoutMs
    this.clock = clock
    this.spoolPath = spoolDir
    this.copies = new FileCopies({
      core: async (key) => (await this.blobsFor(key)).core,
      clock,
      giveUpMs: COPY_GIVE_UP_MS,
    })
  }

  async ready(): Promise<void> {
    const core = this.store.get({ name: 'files' })
    await core.ready()
    this.own = { core, blobs: new Hyperblobs(core) }
    this.cores.set(core.key.toString('hex'), this.own)
    if (this.spoolPath) await this.spoolDir()
  }

  /** Hex key of this node's own file core. */
  get key(): string {
    if (!this.own) throw new Error('file store is not open')
    return this.own.core.key.toString('hex')
  }

  async put(bytes: Buffer): Promise<BlobRef> {
    if (!this.own) throw new StoreError(new Error('file store is not open'))
    try {
      const id = await this.own.blobs.put(bytes)
      return { core: this.own.core.key.toString('hex'), ...id }
    } catch (err) {
      throw new StoreError(err)
    }
  }

  async putStream(source: Readable, signal?: AbortSignal): Promise<BlobRef> {
    if (!this.own) throw new StoreError(new Error('file store is not open'))
    // Spooled to a file first: the core takes one file at a time, and a job's stream may take
    // minutes; copied from the disk it holds the core for a moment, and a stream that fails
    // or is dismissed half-way leaves nothing in it.
    const spool = join(await this.spoolDir(), `${randomUUID()}.part`)
    try {
      try {
        // Read through bytesOf only (leaving it destroys the stream): what fails there is the job's.
        await pipeline(bytesOf(source), createWriteStream(spool), { signal })
      } catch (err) {
        if (signal?.aborted) throw signal.reason
        if (err instanceof SourceStreamError) throw err
        throw new StoreError(err)
      }
      return await this.putFile(spool)
    } finally {
      await rm(spool, { force: true }).catch(() => {})
    }
  }

  /** Appends a file from the disk in BLOCK_BYTES blocks. */
  private async putFile(path: string): Promise<BlobRef> {
    const own = this.own
    if (!own) throw new StoreError(new Error('file store is not open'))
    const sink = own.blobs.createWriteStream()
    let failure: unknown = null
    const closed = new Promise<void>((resolve) => {
      sink.on('error', (err: unknown) => {
        failure ??= err
        resolve()
      })
      sink.on('close', () => resolve())
    })
    try {
      for await (const block of createReadStream(path, { highWaterMark: BLOCK_BYTES })) {
        if (failure) break
        if (!sink.write(block as Buffer))
          await Promise.race([new Promise((resolve) => sink.once('drain', resolve)), closed])
      }
    } catch (err) {
      failure ??= err
    }
    if (!failure) sink.end()
    else sink.destroy()
    await closed
    if (failure) throw new StoreError(failure)
    return { core: own.core.key.toString('hex'), ...sink.id }
  }

  private spooling: Promise<string> | null = null

  /** Where streams are spooled; emptied when the store opens (a crash leaves parts behind). */
  private spoolDir(): Promise<string> {
    this.spooling ??= (async () => {
      const dir = this.spoolPath ?? (await mkdtemp(join(tmpdir(), 'pdf-cluster-spool-')))
      if (this.spoolPath) await rm(dir, { recursive: true, force: true })
      await mkdir(dir, { recursive: true })
      return dir
    })()
    return this.spooling
  }

  private async blobsFor(key: string): Promise<{ core: Hypercore; blobs: Hyperblobs }> {
    let entry = this.cores.get(key)
    if (!entry) {
      const core = this.store.get({ key: Buffer.from(key, 'hex') })
      entry = { core, blobs: new Hyperblobs(core) }
      this.cores.set(key, entry)
    }
    await entry.core.ready()
    return entry
  }

  async open(ref: BlobRef): Promise<StoredFile | null> {
    if (this.closed) return null
    const { core, blobs } = await this.blobsFor(ref.core)
    const end = ref.blockOffset + ref.blockLength
    // A file held only by peers is served as it arrives, once a peer has sent its first
    // block: a large one would not arrive whole within the timeout.
    const local = await core.has(ref.blockOffset, end)
    if (!local && !(await this.fetchFirst(core, ref.blockOffset))) {
      this.onUnreachable?.(replicationOf(core, ref.blockOffset))
      return null
    }
    const id = {
      blockOffset: ref.blockOffset,
      blockLength: ref.blockLength,
      byteOffset: ref.byteOffset,
      byteLength: ref.byteLength,
    }
    const options = local ? { wait: false } : { wait: true, timeout: this.fetchTimeoutMs }
    return {
      size: ref.byteLength,
      stream: (range) => blobs.createReadStream(id, { ...options, ...range }),
    }
  }

  private async fetchFirst(core: Hypercore, index: number): Promise<boolean> {
    let timer: Timer | undefined
    const fetched = core.get(index, { timeout: this.fetchTimeoutMs }).then(
      (block) => block !== null,
      () => false,
    )
    const timedOut = new Promise<boolean>(
      (resolve) => (timer = this.clock.setTimeout(() => resolve(false), this.fetchTimeoutMs)),
    )
    const ok = await Promise.race([fetched, timedOut])
    this.clock.clearTimeout(timer)
    return ok
  }

  async holds(ref: BlobRef): Promise<boolean> {
    if (this.closed) return false
    const { core } = await this.blobsFor(ref.core)
    return core.has(ref.blockOffset, ref.blockOffset + ref.blockLength)
  }

  prefetch(ref: BlobRef): void {
    if (this.closed) return
    this.copies.add(ref.core, { start: ref.blockOffset, end: ref.blockOffset + ref.blockLength })
  }

  async remove(ref: BlobRef): Promise<void> {
    if (this.closed) return
    const range = { start: ref.blockOffset, end: ref.blockOffset + ref.blockLength }
    this.copies.forget(ref.core, range)
    const { core } = await this.blobsFor(ref.core)
    await core.clear(range.start, range.end)
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.copies.close()
    await Promise.all([...this.cores.values()].map(({ core }) => core.close().catch(() => {})))
  }
}

/**
 * The job's stream as bytes, for the spool file. Whatever goes wrong reading it is the job's
 * failure (SourceStreamError), as is a chunk that is not bytes or text.
 */
export async function* bytesOf(
  source: AsyncIterable<unknown>,
): AsyncGenerator<Uint8Array | string> {
  try {
    for await (const chunk of source) {
      if (typeof chunk === 'string' || chunk instanceof Uint8Array) yield chunk
      else
        throw new WrongChunkError(
          new TypeError(
            `a file's stream must yield Buffers, Uint8Arrays or strings, not ${chunk === null ? 'null' : Array.isArray(chunk) ? 'an array' : typeof chunk === 'object' ? 'an object' : typeof chunk}`,
          ),
        )
    }
  } catch (err) {
    throw err instanceof SourceStreamError ? err : new SourceStreamError(err)
  }
}
