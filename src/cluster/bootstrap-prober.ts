/**
 * Keeps a DHT node's table in step with which bootstrap nodes are up. Handing HyperDHT the
 * bootstrap list itself costs seconds for every entry that does not answer, and a dead node in
 * the tables makes every lookup (ours, and those of newcomers that ask us) wait on it. So the
 * persistent node starts alone, and this pings every candidate each second: one that answers
 * enters our table (and we enter its), one that stops answering is dropped at once.
 */
import { networkInterfaces } from 'node:os'
import type HyperDHT from 'hyperdht'
import type { HostPort } from '../config.ts'

/** How often every bootstrap candidate is pinged. */
export const PROBE_INTERVAL_MS = 1000

export interface ProberEvents {
  /** A candidate answered for the first time (or again after going away). */
  onReached(): void
  /** A candidate that had answered went away and was dropped from the tables. */
  onForgotten(): void
}

export class BootstrapProber {
  private readonly probing = new Set<string>()
  private readonly reached = new Set<string>()
  private timer: NodeJS.Timeout | null = null

  constructor(
    private readonly boot: HyperDHT,
    private readonly tables: () => HyperDHT[],
    /** Read at every round: the list may change (cluster/machine-registry.ts). */
    private readonly candidates: () => HostPort[],
    private readonly events: ProberEvents,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.probe(), PROBE_INTERVAL_MS)
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  /** The candidates (host:port) that answered their last ping. */
  reachedNow(): string[] {
    return [...this.reached]
  }

  /** One round: pings every candidate not already being pinged. */
  async probe(): Promise<void> {
    await Promise.all(this.candidates().map((c) => this.probeOne(c)))
  }

  private async probeOne(c: HostPort): Promise<void> {
    const key = `${c.host}:${c.port}`
    if (this.probing.has(key)) return
    this.probing.add(key)
    try {
      await this.boot.ping(c, { retry: false })
      if (!this.reached.has(key)) {
        this.reached.add(key)
        this.events.onReached()
      }
    } catch {
      this.reached.delete(key)
      let forgot = false
      for (const dht of this.tables()) if (forgetNode(dht, c)) forgot = true
      if (forgot) this.events.onForgotten()
    } finally {
      this.probing.delete(key)
    }
  }
}

/**
 * Whether the bootstrap entry `b` names this node's own DHT, on `port` bound to `host`: a node
 * pings every other, and its own DHT answers a ping like any (a lone node bound to 0.0.0.0 with
 * itself in its --bootstrap took that for a peer). Bound to every address, any of this
 * machine's is its own. A host name is not resolved: it is another node's.
 */
export function isOwnAddress(
  b: HostPort,
  host: string,
  port: number,
  local: ReadonlySet<string> = localAddresses(),
): boolean {
  if (b.port !== port) return false
  if (isSameHost(b.host, host)) return true
  const wildcard = host === '0.0.0.0' || host === '::'
  return wildcard && (isSameHost(b.host, '127.0.0.1') || b.host === '::1' || local.has(b.host))
}

/** This machine's network addresses, as its interfaces have them now. */
export function localAddresses(): Set<string> {
  const all = Object.values(networkInterfaces()).flatMap((list) => list ?? [])
  return new Set(all.map((a) => a.address))
}

export function isSameHost(a: string, b: string): boolean {
  const local = (h: string) => h === 'localhost' || h.startsWith('127.')
  return a === b || (local(a) && local(b))
}

/** Removes a node from a DHT node's routing table (dht-rpc has no public call for it). */
function forgetNode(dht: HyperDHT, { host, port }: HostPort): boolean {
  const internal = dht as unknown as {
    nodes?: { toArray(): { host: string; port: number }[] }
    _removeNode?(node: unknown): void
  }
  let found = false
  for (const node of internal.nodes?.toArray() ?? []) {
    if (node.port === port && isSameHost(node.host, host)) {
      internal._removeNode?.(node)
      found = true
    }
  }
  return found
}
