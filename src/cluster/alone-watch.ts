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
  /** The cluster's fingerprint (node.ts, the `started` line's `cluster=`): equal for one secret. */
  fingerprint?: string
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

/** A fresh node alone, as /healthz tells it (health.ts); see `AloneWatch.state`. */
export type AloneState =
  | { answering: string[] }
  /** None of its --bootstrap answers. */
  | { silent: string[] }

export interface AloneWatch {
  /** Starts the count, once the node has started: a slow start is not time alone. */
  start(): void
  stop(): void
  /**
   * A fresh node with an explicit --bootstrap that has met no member since `afterMs` after it
   * started: `answering` names the bootstrap nodes whose DHT answers (an island, most likely of
   * another secret, serving its users apart from that cluster), `silent` those that do not.
   * Null otherwise: a node that met a member, a restarted node (whether it reaches its members
   * is the quorum's to say), and one on the machine's registry, which lists the nodes of every
   * cluster on the machine whatever their secret.
   */
  state(): AloneState | null
}

export function watchAlone(o: AloneWatchOptions): AloneWatch {
  const afterMs = o.afterMs ?? 5000
  let timer: unknown = null
  const others = () => o.candidates?.() ?? o.bootstrap.map(({ host, port }) => `${host}:${port}`)
  // Past `afterMs`, as its timer says: /healthz tells it no sooner than the line does.
  let due = false
  const tell = () => {
    due = true
    if (o.met()) return
    const where = {
      secret: o.secretFrom,
      ...(o.fingerprint && { cluster: o.fingerprint }),
      bootstrap: o.bootstrap.map(({ host, port }) => `${host}:${port}`).join(','),
      ...(o.registry && { registry: o.registry }),
      dhtPort: o.dhtPort,
    }
    const reached = o.reached?.() ?? []
    const answering =
      reached.length > 0
        ? `the DHT at ${reached.join(', ')} answers (nodes are up there), yet no node with this node's secret was found through it`
        : null
    const answered = answering ? { answering: reached.join(',') } : {}
    // Restarted: its cluster was found before. Most likely they are down, stopping or starting
    // (a tester restarting several saw this line a second before they met); but a restart may
    // also have come with another secret or bootstrap (a tester's did), so both are named.
    const before = o.knownBefore?.() ?? []
    if (before.length > 0) {
      o.log.warn('alone', {
        message: `none of the members this node knew before has answered yet (${before.join(', ')}): ${answering ? `${answering} so far` : 'still looking'}; they may be down, stopping or starting, or, if this lasts while they are up, this node's secret or bootstrap is not theirs (changed since its last run?)`,
        ...where,
        ...answered,
      })
      return
    }
    const silent = !answering && !o.registry && others().length > 0
    o.log.warn('alone', {
      message: answering
        ? `no other node found: ${answering} (another secret, most likely; or UDP between other ports blocked, which the links need). Nodes join one cluster only with the same secret, which shows as the same cluster= in their started lines: if this node should join them, give it theirs; alone, this node works by itself`
        : silent
          ? `no other node found: no DHT answers at ${others().join(', ')} (--bootstrap): check the addresses, that those nodes are up, and that UDP to their DHT ports is open to this node (and to this node's, ${o.dhtPort}, from them); alone, this node works by itself`
          : 'no other node found: nodes join one cluster only with the same secret, through a ' +
            '--bootstrap they can reach, with their DHT ports open to each other; alone, this node ' +
            'works by itself',
      ...where,
      ...answered,
    })
  }
  return {
    start: () => {
      timer ??= o.clock.setTimeout(tell, afterMs)
    },
    stop: () => {
      if (timer !== null) o.clock.clearTimeout(timer)
    },
    state: () => {
      if (!due || o.met()) return null
      if (o.registry || (o.knownBefore?.() ?? []).length > 0) return null
      const reached = o.reached?.() ?? []
      if (reached.length > 0) return { answering: reached }
      const silent = others()
      return silent.length > 0 ? { silent } : null
    },
  }
}
