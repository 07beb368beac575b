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

export interface FileRef {
  /** Hex key of the hyperblobs core holding the file. */
  core: string
  blockOffset: number
  blockLength: number
  byteOffset: number
  byteLength: number
}

export interface StoredFile {
  size: number
  stream(): Readable
}

export interface FileStore {
  put(bytes: Buffer): Promise<FileRef>
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
    if (!this.own) throw new Error('file store is not open')
    const id = await this.own.blobs.put(bytes)
    return { core: this.own.core.key.toString('hex'), ...id }
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
    if (!(await core.has(ref.blockOffset, end))) {
      const range = core.download({ start: ref.blockOffset, end })
      let timer: Timer | undefined
      const fetched = await Promise.race([
        range.done().then(
          () => true,
          () => false,
        ),
        new Promise<boolean>(
          (resolve) => (timer = this.clock.setTimeout(() => resolve(false), this.fetchTimeoutMs)),
        ),
      ])
      this.clock.clearTimeout(timer)
      if (!fetched) {
        range.destroy()
        return null
      }
    }
    const id = {
      blockOffset: ref.blockOffset,
      blockLength: ref.blockLength,
      byteOffset: ref.byteOffset,
      byteLength: ref.byteLength,
    }
    return { size: ref.byteLength, stream: () => blobs.createReadStream(id, { wait: false }) }
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
