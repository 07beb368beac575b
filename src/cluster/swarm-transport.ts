/**
 * The cluster's links over hyperswarm over a DHT of the cluster's own (the machines have no
 * internet), a topic derived from the secret, and admission before anything else is
 * exchanged. Each admitted connection carries one protomux channel of JSON messages beside
 * the log's replication.
 */
import { EventEmitter } from 'node:events'
import { createHmac } from 'node:crypto'
import { isIPv4 } from 'node:net'
import HyperDHT from 'hyperdht'
import Hyperswarm from 'hyperswarm'
import Protomux from 'protomux'
import c from 'compact-encoding'
import { admissionKey, proof, verifyProof } from './admission.ts'
import { BootstrapProber, PROBE_INTERVAL_MS, isSameHost } from './bootstrap-prober.ts'
import { MachineRegistry } from './machine-registry.ts'
import type { Link, Transport, TransportEvents } from './transport.ts'
import type { HostPort } from '../config.ts'
import type { Logger } from '../logger.ts'

/** A dead link is noticed by the socket itself after this (membership is much faster). */
const KEEP_ALIVE_MS = 1000
/**
 * The largest message sent as a datagram: one UDP packet under a 1500-byte MTU once UDX's and
 * the secret stream's headers are added (udx-native also cuts what it receives at 2 KiB).
 */
const MAX_DATAGRAM_BYTES = 1400
const LINK_TIMEOUT_MS = 3000
/**
 * The cluster protocol's version. v2 carries the log advert in its own message and records
 * without `fileUrl`; v3 records carry a job's `params` and its attempts, which a v2 node
 * would drop when it rewrote one; v4 sends heartbeats as datagrams, which a v3 node would not
 * hear. Nodes of different versions must not link (see README, Upgrading).
 */
const PROTOCOL = 'pdf-cluster/v4'
const OLDER_PROTOCOLS = ['pdf-cluster/v1', 'pdf-cluster/v2', 'pdf-cluster/v3']
/** How long start waits for the bootstrap nodes to answer a first ping. */
const FIRST_PROBE_MS = 300
/** A shutdown step that takes longer than this is abandoned (the process is exiting). */
const DESTROY_LIMIT_MS = 200

interface NoiseStream {
  handshakeHash: Buffer
  isInitiator: boolean
  remotePublicKey: Buffer
  setKeepAlive(ms: number): void
  setTimeout(ms: number): void
  on(event: string, f: (...args: any[]) => void): void
  once(event: 'close', f: () => void): void
  destroy(err?: Error): void
  /** The connection under the encryption: UDX streams carry datagrams (`trySend`). */
  rawStream?: { trySend?: unknown } | null
  trySend(bytes: Buffer): void
}

export interface TransportOptions {
  secret: string
  host: string
  dhtPort: number
  bootstrap: HostPort[]
  /**
   * Where the nodes of this machine register their DHT addresses, to bootstrap through each
   * other whatever their ports (machine-registry.ts); null: not used (--bootstrap was given).
   */
  registryDir?: string | null
  log: Logger
  /** Tests only: join this topic instead of the one the secret gives. */
  topic?: Buffer
  /** Tests only: speak this protocol version instead of the current one. */
  protocol?: string
}

export function topicFor(secret: string): Buffer {
  return createHmac('sha256', secret).update('pdf-cluster topic v1').digest()
}

export class SwarmTransport extends EventEmitter<TransportEvents> implements Transport {
  private boot: HyperDHT | null = null
  private dht: HyperDHT | null = null
  private swarm: Hyperswarm | null = null
  private discovery: { refresh(): Promise<void> } | null = null
  private readonly key: Buffer
  private readonly topic: Buffer
  readonly links = new Set<Link>()
  private closed = false
  private refreshing = false
  private registry: MachineRegistry | null = null
  private registryTimer: NodeJS.Timeout | null = null
  private prober: BootstrapProber | null = null

  constructor(private readonly o: TransportOptions) {
    super()
    this.key = admissionKey(o.secret)
    this.topic = o.topic ?? topicFor(o.secret)
  }

  async start(): Promise<void> {
    const { host, dhtPort, bootstrap } = this.o
    // Two DHT nodes per process. A persistent one on the known port stores announcements and
    // lets other nodes bootstrap through it; the swarm's own node sits on a free port beside
    // it. With a single node per process, two lone nodes never find each other: each one's
    // announcement is stored only on the other, and a lookup never consults its own store.
    //
    // Neither is handed the bootstrap list (see bootstrap-prober.ts). bootstrapper() seeds the node's view of its own address, without which a node with
    // nobody to ask stays ephemeral: no table, no stored announcements.
    const boot =
      dhtPort === 0
        ? new HyperDHT({ host, firewalled: false, bootstrap: [] })
        : HyperDHT.bootstrapper(dhtPort, isIPv4(host) && host !== '0.0.0.0' ? host : '127.0.0.1', {
            host,
          })
    this.boot = boot
    try {
      await boot.ready()
    } catch (err) {
      await boot.destroy({ force: true }).catch(() => {})
      // dht-rpc 6.27 never releases the network-interface watcher of a DHT that failed to
      // bind (its destroy waits on the failed bind first), and that watcher keeps the process
      // alive: release it here.
      ;(
        boot as unknown as { io?: { networkInterfaces?: { destroy(): void } } }
      ).io?.networkInterfaces?.destroy()
      const code = (err as NodeJS.ErrnoException).code
      throw new Error(
        code === 'EADDRINUSE'
          ? `--dht-port ${dhtPort} is already in use on ${host}: pick another one`
          : `the DHT could not start on ${host}:${dhtPort}: ${(err as Error).message}`,
      )
    }
    const own = { host: host === '0.0.0.0' ? '127.0.0.1' : host, port: boot.address().port }
    if (this.o.registryDir) {
      const registry = new MachineRegistry(this.o.registryDir, own)
      await registry.start().catch((err: Error) => {
        this.o.log.warn('machine-registry-failed', { error: err.message })
      })
      this.registry = registry
      this.registryTimer = setInterval(() => void registry.refresh(), PROBE_INTERVAL_MS)
    }
    const notOwn = (b: HostPort) => !(b.port === own.port && isSameHost(b.host, host))
    const candidates = () => {
      const all = [...bootstrap, ...(this.registry?.list() ?? [])].filter(notOwn)
      return all.filter(
        (b, i) => all.findIndex((o) => o.port === b.port && o.host === b.host) === i,
      )
    }
    this.prober = new BootstrapProber(
      boot,
      () => (this.dht ? [boot, this.dht] : [boot]),
      candidates,
      {
        onReached: () => this.refresh(),
        // A lookup already waiting on the dropped node is started again.
        onForgotten: () => this.refresh(true),
      },
    )
    // Live bootstrap nodes answer within milliseconds; dead ones are not worth waiting for.
    await withTimeout(this.prober.probe(), FIRST_PROBE_MS)
    const dht = new HyperDHT({ host, firewalled: false, bootstrap: [own] })
    this.dht = dht
    await dht.ready()
    const swarm = new Hyperswarm({ dht })
    this.swarm = swarm
    swarm.on('connection', (conn: NoiseStream) => this.onConnection(conn))
    this.discovery = swarm.join(this.topic, { server: true, client: true }) as unknown as {
      refresh(): Promise<void>
    }
    this.prober.start()
  }

  /** Looks the topic up again: peers that joined at the same moment can miss each other. */
  refresh(restart = false): void {
    // A new refresh cancels the lookup in flight; with dead bootstrap entries a lookup takes
    // seconds, so refreshing on a timer would never let one finish.
    if (!this.discovery || (this.refreshing && !restart)) return
    this.refreshing = true
    this.discovery
      .refresh()
      .catch(() => {})
      .finally(() => (this.refreshing = false))
  }

  private onConnection(conn: NoiseStream): void {
    conn.on('error', () => {})
    conn.setKeepAlive(KEEP_ALIVE_MS)
    conn.setTimeout(LINK_TIMEOUT_MS)
    const remoteKey = conn.remotePublicKey.toString('hex')
    let admitted = false
    let link: Link | null = null
    const mux = Protomux.from(conn)
    for (const older of OLDER_PROTOCOLS.filter((p) => p !== this.o.protocol)) {
      mux.pair({ protocol: older }, () => {
        this.o.log.warn('peer-refused', {
          peer: remoteKey.slice(0, 12),
          reason: `it speaks ${older}, an older version: run one version across the cluster`,
        })
        conn.destroy()
      })
    }
    const channel = mux.createChannel({
      protocol: this.o.protocol ?? PROTOCOL,
      handshake: c.fixed32,
      onopen: (remoteProof) => {
        if (!verifyProof(this.key, conn.handshakeHash, conn.isInitiator, remoteProof)) {
          this.o.log.warn('peer-refused', {
            peer: remoteKey.slice(0, 12),
            reason: 'no proof of the cluster secret',
          })
          conn.destroy()
          return
        }
        admitted = true
        link = {
          remoteKey,
          memberId: null,
          stream: conn,
          send: (m) => {
            try {
              message.send(m)
            } catch {
              // A closing link: membership will notice the silence.
            }
          },
          datagram: (m) => {
            if (!conn.rawStream?.trySend) return false
            const bytes = Buffer.from(JSON.stringify(m))
            if (bytes.byteLength > MAX_DATAGRAM_BYTES) return false
            try {
              conn.trySend(bytes)
            } catch {
              // As send: a closing link is noticed by membership.
            }
            return true
          },
          close: () => conn.destroy(),
        }
        this.links.add(link)
        this.emit('open', link)
      },
      onclose: () => conn.destroy(),
    })
    if (!channel) return conn.destroy()
    const message = channel.addMessage({
      encoding: c.json,
      // Never throw here: protomux would tear down the whole connection, replication included.
      onmessage: (m) => {
        if (!admitted || !link) return
        try {
          this.emit('message', link, m)
        } catch (err) {
          this.o.log.error('message-failed', { error: (err as Error).message })
        }
      },
    })
    // Datagrams (Link.datagram) come to the same place as the channel's messages, once the
    // peer has proved the secret; the secret stream has authenticated and decrypted them.
    conn.on('message', (bytes: Buffer) => {
      if (!admitted || !link) return
      let m: unknown
      try {
        m = JSON.parse(bytes.toString())
      } catch {
        return this.o.log.warn('bad-message', { peer: remoteKey.slice(0, 12) })
      }
      try {
        this.emit('message', link, m)
      } catch (err) {
        this.o.log.error('message-failed', { error: (err as Error).message })
      }
    })
    channel.open(proof(this.key, conn.handshakeHash, conn.isInitiator))
    conn.once('close', () => {
      if (link && this.links.delete(link)) this.emit('close', link)
    })
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.prober?.stop()
    if (this.registryTimer) clearInterval(this.registryTimer)
    await this.registry?.stop().catch(() => {})
    // Leaving stops the topic's refresh timer at once and then withdraws our announcements;
    // those queries can wait on peers that are shutting down too, so they get a moment only.
    if (this.swarm) await withTimeout(this.swarm.leave(this.topic), DESTROY_LIMIT_MS)
    await withTimeout(this.swarm?.destroy({ force: true }), DESTROY_LIMIT_MS)
    await withTimeout(this.dht?.destroy({ force: true }), DESTROY_LIMIT_MS)
    await withTimeout(this.boot?.destroy({ force: true }), DESTROY_LIMIT_MS)
  }
}

function withTimeout(work: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (!work) return Promise.resolve()
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    work.then(
      () => {},
      () => {},
    ),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
  ]).finally(() => clearTimeout(timer))
}
