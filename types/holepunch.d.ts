// The parts of the Holepunch modules this project uses; none of them ship types.

declare module 'hypercore' {
  import { EventEmitter } from 'node:events'
  export default class Hypercore extends EventEmitter {
    key: Buffer
    discoveryKey: Buffer
    length: number
    byteLength: number
    writable: boolean
    ready(): Promise<void>
    get(index: number, opts?: { wait?: boolean; timeout?: number }): Promise<unknown>
    append(block: unknown): Promise<{ length: number }>
    close(): Promise<void>
  }
}

declare module 'corestore' {
  import Hypercore from 'hypercore'
  export default class Corestore {
    constructor(storage: string, opts?: Record<string, unknown>)
    ready(): Promise<void>
    get(opts: { name?: string; key?: Buffer; valueEncoding?: string } | Buffer): Hypercore
    session(): Corestore
    namespace(name: string): Corestore
    replicate(stream: unknown): unknown
    close(): Promise<void>
  }
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
    length: number
    signedLength: number
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
    destroy(): Promise<void>
    connections: Set<unknown>
  }
}

declare module 'hyperdht' {
  export default class HyperDHT {
    constructor(opts?: Record<string, unknown>)
    static bootstrapper(port: number, host: string, opts?: Record<string, unknown>): HyperDHT
    ready(): Promise<void>
    destroy(): Promise<void>
    address(): { host: string; port: number }
  }
}
