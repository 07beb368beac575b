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
import { admissionKey } from './admission.ts'
import { openLink, type NoiseStream } from './swarm-link.ts'
import {
  BootstrapProber,
  PROBE_INTERVAL_MS,
  isOwnAddress,
  localAddresses,
} from './bootstrap-prober.ts'
import { MachineRegistry } from './machine-registry.ts'
import type { Link, Transport, TransportEvents } from './transport.ts'
import type { HostPort } from '../config.ts'
import type { Logger } from '../logger.ts'

/** How long start waits for the bootstrap nodes to answer a first ping. */
const FIRST_PROBE_MS = 300
/** A shutdown step that takes longer than this is abandoned (the process is exiting). */
const DESTROY_LIMIT_MS = 200
/**
 * Hyperswarm's waits before it dials a peer again whose connection closed: 0.25 s, 1 s and 5 s
 * (its own are 1, 5 and 15 s, each with up to a second of jitter, on timers that fire in bulk;
 * the last, for peers given by hand, is its own 10 minutes). A member back from standing
 * still (a paused process) found its links dropped by peers that took it for dead, and waited
 * 3 s for them, cut off meanwhile; on a LAN a dial is cheap.
 */
const REDIAL_BACKOFFS_MS = [250, 1000, 5000, 10 * 60_000]
const REDIAL_JITTER_MS = 100

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
  private candidates: () => HostPort[] = () => []

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
      // A rejection here would be unhandled: a library user's process would end on it.
      this.registryTimer = setInterval(
        () =>
          void registry.refresh().catch((err: Error) => {
            this.o.log.warn('machine-registry-failed', { error: err.message })
          }),
        PROBE_INTERVAL_MS,
      )
    }
    const local = localAddresses()
    const notOwn = (b: HostPort) => !isOwnAddress(b, host, own.port, local)
    const candidates = () => {
      const all = [...bootstrap, ...(this.registry?.list() ?? [])].filter(notOwn)
      return all.filter(
        (b, i) => all.findIndex((o) => o.port === b.port && o.host === b.host) === i,
      )
    }
    this.candidates = candidates
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
    const swarm = new Hyperswarm({ dht, backoffs: REDIAL_BACKOFFS_MS, jitter: REDIAL_JITTER_MS })
    this.swarm = swarm
    swarm.on('connection', (conn: NoiseStream) =>
      openLink(conn, {
        key: this.key,
        protocol: this.o.protocol,
        log: this.o.log,
        opened: (link) => {
          this.links.add(link)
          this.emit('open', link)
        },
        message: (link, m) => this.emit('message', link, m),
        closed: (link) => {
          if (this.links.delete(link)) this.emit('close', link)
        },
      }),
    )
    this.discovery = swarm.join(this.topic, { server: true, client: true }) as unknown as {
      refresh(): Promise<void>
    }
    this.prober.start()
  }

  /** The bootstrap nodes (host:port) other than this one, from --bootstrap or the registry. */
  bootstrapCandidates(): string[] {
    return this.candidates().map(({ host, port }) => `${host}:${port}`)
  }

  /** The bootstrap nodes (host:port) whose DHT answered the last ping (bootstrap-prober.ts). */
  bootstrapReached(): string[] {
    return this.prober?.reachedNow() ?? []
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
