/**
 * Generated files, in the cluster's replicated storage: each node appends the files it makes
 * to a hyperblobs core of its own, in the same corestore as the log, so they replicate over
 * the same connections. A record points to its file by core key and blob id; any node can
 * serve it, fetching it from a peer if it must, also after the generating node has died,
 * once it has been replicated (every node prefetches the files of ready records).
 */
import type { Readable } from 'node:stream'
import Hyperblobs from 'hyperblobs'
import type Corestore from 'corestore'
import type Hypercore from 'hypercore'
import { systemClock, type Clock, type Timer } from '../clock.ts'
import type { FileRef } from './record.ts'

export type { FileRef } from './record.ts'

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

/** Blocks of a stored file: hyperblobs' own block size. */
const BLOCK_BYTES = 64 * 1024

export interface FileStore {
  put(bytes: Buffer): Promise<FileRef>
  /**
   * Stores a stream as it comes, holding at most a few blocks in memory; rejects with
   * SourceStreamError if the stream fails, StoreError if the store does, or the signal's
   * reason once it is aborted (what was written so far is freed).
   */
  putStream(source: Readable, signal?: AbortSignal): Promise<FileRef>
  /** Null when the file cannot be had within the fetch timeout (no peer holding it is reachable). */
  open(ref: FileRef): Promise<StoredFile | null>
  /** Starts copying a file here, so it outlives the node that made it. */
  prefetch(ref: FileRef): void
  /** Frees this node's copy. */
  remove(ref: FileRef): Promise<void>
  close(): Promise<void>
}

export interface BlobFileStoreOptions {
  /** How long a request waits for a file held only by peers. @default 3000 */
  fetchTimeoutMs?: number
  clock?: Clock
}

export class BlobFileStore implements FileStore {
  private readonly cores = new Map<string, { core: Hypercore; blobs: Hyperblobs }>()
  private own: { core: Hypercore; blobs: Hyperblobs } | null = null
  private closed = false

  private readonly fetchTimeoutMs: number
  private readonly clock: Clock

  constructor(
    private readonly store: Corestore,
    { fetchTimeoutMs = 3000, clock = systemClock }: BlobFileStoreOptions = {},
  ) {
    this.fetchTimeoutMs = fetchTimeoutMs
    this.clock = clock
  }

  async ready(): Promise<void> {
    const core = this.store.get({ name: 'files' })
    await core.ready()
    this.own = { core, blobs: new Hyperblobs(core) }
    this.cores.set(core.key.toString('hex'), this.own)
  }

  /** Hex key of this node's own file core. */
  get key(): string {
    if (!this.own) throw new Error('file store is not open')
    return this.own.core.key.toString('hex')
  }

  async put(bytes: Buffer): Promise<FileRef> {
    if (!this.own) throw new StoreError(new Error('file store is not open'))
    try {
      const id = await this.own.blobs.put(bytes)
      return { core: this.own.core.key.toString('hex'), ...id }
    } catch (err) {
      throw new StoreError(err)
    }
  }

  async putStream(source: Readable, signal?: AbortSignal): Promise<FileRef> {
    const own = this.own
    if (!own) throw new StoreError(new Error('file store is not open'))
    const sink = own.blobs.createWriteStream()
    let sinkError: unknown = null
    const sinkDone = new Promise<void>((resolve) => {
      sink.on('error', (err: unknown) => {
        sinkError = err
        resolve()
      })
      sink.on('close', () => resolve())
    })
    const startedAt = { block: own.core.length }
    try {
      for await (const block of blocks(source, signal)) {
        if (sinkError) break
        // Back-pressure: the generator's stream is read no faster than the disk takes it.
        if (!sink.write(block))
          await Promise.race([new Promise((resolve) => sink.once('drain', resolve)), sinkDone])
      }
      if (sinkError) throw new StoreError(sinkError)
      sink.end()
      await sinkDone
      if (sinkError) throw new StoreError(sinkError)
      return { core: own.core.key.toString('hex'), ...sink.id }
    } catch (err) {
      sink.destroy()
      // What was written of a file that will never be served is given back to the disk.
      const end = own.core.length
      if (end > startedAt.block) void own.core.clear(startedAt.block, end).catch(() => {})
      throw err
    }
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

  async open(ref: FileRef): Promise<StoredFile | null> {
    if (this.closed) return null
    const { core, blobs } = await this.blobsFor(ref.core)
    const end = ref.blockOffset + ref.blockLength
    // A file held only by peers is served as it arrives, once a peer has sent its first
    // block: a large one would not arrive whole within the timeout.
    const local = await core.has(ref.blockOffset, end)
    if (!local && !(await this.fetchFirst(core, ref.blockOffset))) return null
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

  prefetch(ref: FileRef): void {
    if (this.closed) return
    void this.blobsFor(ref.core)
      .then(({ core }) =>
        core.download({ start: ref.blockOffset, end: ref.blockOffset + ref.blockLength }).done(),
      )
      .catch(() => {})
  }

  async remove(ref: FileRef): Promise<void> {
    if (this.closed) return
    const { core } = await this.blobsFor(ref.core)
    await core.clear(ref.blockOffset, ref.blockOffset + ref.blockLength)
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.all([...this.cores.values()].map(({ core }) => core.close().catch(() => {})))
  }
}

/** The stream's bytes in blocks of BLOCK_BYTES (the last one shorter), whatever it yields. */
async function* blocks(source: Readable, signal?: AbortSignal): AsyncGenerator<Buffer> {
  let pending: Buffer[] = []
  let size = 0
  const abort = () => source.destroy(signal?.reason as Error)
  signal?.addEventListener('abort', abort, { once: true })
  try {
    if (signal?.aborted) throw signal.reason
    const chunks: AsyncIterable<unknown> = source
    try {
      for await (const chunk of chunks) {
        if (signal?.aborted) throw signal.reason
        let buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array)
        while (size + buf.length >= BLOCK_BYTES) {
          const take = BLOCK_BYTES - size
          pending.push(buf.subarray(0, take))
          yield Buffer.concat(pending, BLOCK_BYTES)
          buf = buf.subarray(take)
          pending = []
          size = 0
        }
        if (buf.length) {
          pending.push(buf)
          size += buf.length
        }
      }
    } catch (err) {
      if (signal?.aborted) throw signal.reason
      throw new SourceStreamError(err)
    }
    if (size) yield Buffer.concat(pending, size)
  } finally {
    signal?.removeEventListener('abort', abort)
  }
}
