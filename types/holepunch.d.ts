// The parts of the Holepunch modules this project uses; none of them ship types.

declare module 'hypercore' {
  import { EventEmitter } from 'node:events'
  export default class Hypercore extends EventEmitter {
    key: Buffer
    discoveryKey: Buffer
    length: number
    /** Bumped by each truncation. */
    fork: number
    /** Blocks held here from 0 without a gap. */
    contiguousLength: number
    byteLength: number
    writable: boolean
    /** Replication peers of this core (hypercore's replicator; read for diagnostics only). */
    peers: unknown[]
    ready(): Promise<void>
    get(index: number, opts?: { wait?: boolean; timeout?: number }): Promise<unknown>
    append(block: unknown): Promise<{ length: number }>
    has(start: number, end?: number): Promise<boolean>
    download(range: { start: number; end: number }): { done(): Promise<void>; destroy(): void }
    clear(start: number, end?: number): Promise<void>
    /** Another session of the same core; an active one is replicated on every stream. */
    session(opts?: { active?: boolean }): Hypercore
    close(): Promise<void>
    static discoveryKey(key: Buffer): Buffer
  }
}

declare module 'corestore' {
  import Hypercore from 'hypercore'
  import CoreStorage from 'hypercore-storage'
  interface OpenCore {
    hasSession(): boolean
    gc: number
    closing: Promise<void> | null
    opened: boolean
    discoveryKey: Buffer
    /** What corestore's idle collection calls; once closed, it takes the core out of `map`. */
    close(): Promise<void>
  }
  /** A core stored, as hypercore-storage's core stream names it. */
  export interface CoreEntry {
    corePointer: number
    dataPointer: number
  }
  export default class Corestore {
    constructor(storage: string | CoreStorage, opts?: Record<string, unknown>)
    ready(): Promise<void>
    get(opts: { name?: string; key?: Buffer; valueEncoding?: string } | Buffer): Hypercore
    session(): Corestore
    namespace(name: string): Corestore
    /** The namespace of this session (a hash), under which its names are stored. */
    ns: Buffer
    replicate(stream: unknown): unknown
    close(): Promise<void>
    /** Calls `fn` with every core the store (any session of it) opens from now on. */
    watch(fn: (core: OpenCore) => void): void
    /**
     * The cores open in this process, by hex discovery key, and their idle collection (each a
     * hypercore `Core`: `gc` counts corestore's strikes, `closing` is its close once started).
     */
    cores: {
      map: Map<string, OpenCore>
      gc(core: OpenCore): void
      /** What opening the core again does (a peer's channel for it too): stops its countdown. */
      resume(id: string): OpenCore | null
    }
    /** hypercore-storage, the RocksDB under every core of the store (core-sweep.ts). */
    storage: {
      createCoreStream(): AsyncIterable<{ discoveryKey: Buffer; core: CoreEntry }>
      deleteCore(ptr: CoreEntry): Promise<void>
      hasCore(discoveryKey: Buffer): Promise<boolean>
      /** The discovery key a name was given to in a namespace (kept after the core is deleted). */
      getAlias(alias: { name: string; namespace: Buffer }): Promise<Buffer | null>
      compact(): Promise<void>
      db: {
        write(opts: { autoDestroy: boolean }): {
          tryDeleteRange(start: Buffer, end: Buffer): void
          flush(): Promise<void>
        }
      }
    }
  }
}

declare module 'hypercore-storage' {
  /** The RocksDB under a corestore; options reach RocksDB's column family. */
  export default class CoreStorage {
    constructor(dir: string, opts?: { writeBufferSize?: number })
    ready(): Promise<void>
    close(): Promise<void>
    /** Whether a core is stored here: what corestore asks before opening one for a peer. */
    hasCore(discoveryKey: Buffer, opts?: Record<string, unknown>): Promise<boolean>
  }
}

declare module 'hypercore-storage/lib/keys.js' {
  const keys: { core: { data(pointer: number): Buffer } }
  export default keys
}

declare module 'autobase' {
  import { EventEmitter } from 'node:events'
  import Corestore from 'corestore'
  import Hypercore from 'hypercore'

  export interface ApplyNode {
    value: unknown
    from: { key: Buffer }
    length: number
  }
  export interface ApplyHost {
    addWriter(key: Buffer, opts?: { indexer?: boolean }): Promise<void>
    removeWriter(key: Buffer): Promise<void>
    ackWriter(key: Buffer): Promise<void>
  }
  export interface AutobaseOptions {
    open(store: Corestore): Hypercore
    apply(nodes: ApplyNode[], view: Hypercore, host: ApplyHost): Promise<void>
    valueEncoding?: string
    ackInterval?: number
    optimistic?: boolean
  }
  export default class Autobase extends EventEmitter {
    constructor(store: Corestore, bootstrap: Buffer | null, opts: AutobaseOptions)
    key: Buffer
    discoveryKey: Buffer
    local: Hypercore
    view: Hypercore
    writable: boolean
    isIndexer: boolean
    /** The system core, null until opened: `length` and `signedLength` read it. */
    core: Hypercore | null
    length: number
    signedLength: number
    indexedLength: number
    ready(): Promise<void>
    append(value: unknown, opts?: { optimistic?: boolean }): Promise<void>
    update(): Promise<void>
    ack(bg?: boolean): Promise<void>
    replicate(stream: unknown): unknown
    close(): Promise<void>
  }
}

declare module 'hyperswarm' {
  import { EventEmitter } from 'node:events'
  export default class Hyperswarm extends EventEmitter {
    constructor(opts?: Record<string, unknown>)
    join(topic: Buffer, opts?: { server?: boolean; client?: boolean }): { flushed(): Promise<void> }
    flush(): Promise<void>
    leave(topic: Buffer): Promise<void>
    destroy(opts?: { force?: boolean }): Promise<void>
    connections: Set<unknown>
  }
}

declare module 'hyperdht' {
  export default class HyperDHT {
    constructor(opts?: Record<string, unknown>)
    static bootstrapper(port: number, host: string, opts?: Record<string, unknown>): HyperDHT
    ready(): Promise<void>
    destroy(opts?: { force?: boolean }): Promise<void>
    address(): { host: string; port: number }
    ping(to: { host: string; port: number }, opts?: { retry?: boolean }): Promise<unknown>
    addNode(node: { host: string; port: number }): void
  }
}

declare module 'protomux' {
  export interface Channel {
    open(handshake?: unknown): void
    close(): void
    addMessage(opts: { encoding: unknown; onmessage?: (m: unknown) => void }): {
      send(m: unknown): boolean
    }
  }
  export default class Protomux {
    static from(stream: unknown): Protomux
    /** Calls back when the remote opens a channel of this protocol that we have not. */
    pair(opts: { protocol: string; id?: Buffer }, notify: () => void): void
    createChannel(opts: {
      protocol: string
      id?: Buffer
      handshake?: unknown
      onopen?: (handshake: unknown) => void
      onclose?: () => void
    }): Channel | null
  }
}

declare module 'compact-encoding' {
  /** An encoding: how a value is sized, written and read at a state's position. */
  export interface Encoding<T = unknown> {
    preencode(state: unknown, value: T): void
    encode(state: unknown, value: T): void
    decode(state: unknown): T
  }
  const c: {
    json: Encoding
    utf8: Encoding<string>
    fixed32: Encoding<Buffer>
    buffer: Encoding<Buffer | null>
    raw: Encoding<Buffer>
    uint8array: Encoding<Uint8Array>
  }
  export default c
}

declare module 'hyperblobs' {
  import Hypercore from 'hypercore'
  import type { Readable } from 'node:stream'
  export interface BlobId {
    blockOffset: number
    blockLength: number
    byteOffset: number
    byteLength: number
  }
  export default class Hyperblobs {
    constructor(core: Hypercore, opts?: { blockSize?: number })
    ready(): Promise<void>
    put(blob: Buffer): Promise<BlobId>
    get(id: BlobId, opts?: { wait?: boolean; timeout?: number }): Promise<Buffer | null>
    clear(id: BlobId): Promise<void>
    createReadStream(
      id: BlobId,
      opts?: { wait?: boolean; timeout?: number; start?: number; end?: number },
    ): Readable
    /** A streamx Writable: write/end/destroy, 'drain', 'error' and 'close'; `id` once closed. */
    createWriteStream(): BlobWriteStream
    close(): Promise<void>
  }
  export interface BlobWriteStream {
    readonly id: BlobId
    write(data: Buffer): boolean
    end(): void
    destroy(err?: Error): void
    on(event: 'drain' | 'close', listener: () => void): this
    on(event: 'error', listener: (err: unknown) => void): this
    once(event: string, listener: (...args: unknown[]) => void): this
  }
}

declare module 'hypercore/lib/replicator.js' {
  /** Hypercore's replication state of one core; patched by store/peer-range-fix.ts. */
  export default class Replicator {}
}
