/**
 * Says once, some seconds after start, that a node has met no other. A user who meant it to
 * join a cluster learns what to check (the usual causes: another secret, a bootstrap it cannot
 * reach); a node meant to run alone is told that it does, and goes on.
 */
import type { Logger } from '../logger.ts'
import type { Clock } from '../clock.ts'
import type { HostPort } from '../config.ts'

export interface AloneWatchOptions {
  /** Whether this node has met another member (alive or not) since it started. */
  met: () => boolean
  /** Where the secret came from, in words: "--secret or CLUSTER_SECRET", or the machine's file. */
  secretFrom: string
  bootstrap: HostPort[]
  /** This machine's registry of nodes, when it is looked in (no --bootstrap given). */
  registry?: string | null
  /**
   * The bootstrap nodes (host:port) whose DHT answers now (bootstrap-prober.ts): they are up,
   * so a node that meets no member through them most likely has another secret.
   */
  reached?: () => string[]
  /** The bootstrap nodes (host:port) it pings, itself left out. @default bootstrap */
  candidates?: () => string[]
  /** The names of the members this node knew before it started (a restart): none when new. */
  knownBefore?: () => string[]
  dhtPort: number
  clock: Clock
  log: Logger
  /** @default 5000 */
  afterMs?: number
}

export interface AloneWatch {
  stop(): void
  /**
   * The nodes of an explicit --bootstrap whose DHT answers while this node has met no member
   * since `afterMs` after its start: an island, most likely of another secret, that serves its
   * users alone (a /healthz warning, health.ts). Empty otherwise, and with the machine's
   * registry, which lists the nodes of every cluster on the machine.
   */
  island(): string[]
}

export function watchAlone(o: AloneWatchOptions): AloneWatch {
  const afterMs = o.afterMs ?? 5000
  const since = o.clock.now()
  const timer = o.clock.setTimeout(() => {
    if (o.met()) return
    const where = {
      secret: o.secretFrom,
      bootstrap: o.bootstrap.map(({ host, port }) => `${host}:${port}`).join(','),
      ...(o.registry && { registry: o.registry }),
      dhtPort: o.dhtPort,
    }
    const reached = o.reached?.() ?? []
    const answering =
      reached.length > 0
        ? `the DHT at ${reached.join(', ')} answers (nodes are up there), yet no node with this node's secret was found through it (another secret, most likely; or UDP between other ports blocked, which the links need)`
        : null
    // Restarted: its cluster was found before. Most likely they are down; but a restart may
    // also have come with another secret or bootstrap (a tester's did), so both are named.
    const before = o.knownBefore?.() ?? []
    if (before.length > 0) {
      o.log.warn('alone', {
        message: answering
          ? `none of the members this node knew before has answered yet (${before.join(', ')}): ${answering}; if they are the same nodes, this node's secret is not theirs (changed since its last run?)`
          : `none of the members this node knew before has answered yet (${before.join(', ')}): still looking; they may be down, or, if they are up, this node's secret or bootstrap is not theirs (changed since its last run?)`,
        ...where,
        ...(answering && { answering: reached.join(',') }),
      })
      return
    }
    const others = o.candidates?.() ?? where.bootstrap.split(',').filter(Boolean)
    const silent = !answering && !o.registry && others.length > 0
    o.log.warn('alone', {
      message: answering
        ? `no other node found: ${answering}. Nodes join one cluster only with the same secret: if this node should join them, give it theirs; alone, this node works by itself`
        : silent
          ? `no other node found: no DHT answers at ${others.join(', ')} (--bootstrap): check the addresses, that those nodes are up, and that their DHT ports are open to this node (and this node's, ${o.dhtPort}, to them); alone, this node works by itself`
          : 'no other node found: nodes join one cluster only with the same secret, through a ' +
            '--bootstrap they can reach, with their DHT ports open to each other; alone, this node ' +
            'works by itself',
      ...where,
      ...(answering && { answering: reached.join(',') }),
    })
  }, afterMs)
  return {
    stop: () => o.clock.clearTimeout(timer),
    island: () =>
      o.registry || o.clock.now() - since < afterMs || o.met() ? [] : (o.reached?.() ?? []),
  }
}
