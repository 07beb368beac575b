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
  /** The names of the members this node knew before it started (a restart): none when new. */
  knownBefore?: () => string[]
  dhtPort: number
  clock: Clock
  log: Logger
  /** @default 5000 */
  afterMs?: number
}

/** Returns a function that cancels the watch. */
export function watchAlone(o: AloneWatchOptions): () => void {
  const timer = o.clock.setTimeout(() => {
    if (o.met()) return
    const where = {
      secret: o.secretFrom,
      bootstrap: o.bootstrap.map(({ host, port }) => `${host}:${port}`).join(','),
      ...(o.registry && { registry: o.registry }),
      dhtPort: o.dhtPort,
    }
    // Restarted: its cluster was found before. Most likely they are down; but a restart may
    // also have come with another secret or bootstrap (a tester's did), so both are named.
    const before = o.knownBefore?.() ?? []
    if (before.length > 0) {
      o.log.warn('alone', {
        message: `none of the members this node knew before has answered yet (${before.join(', ')}): still looking; they may be down, or, if they are up, this node's secret or bootstrap is not theirs (changed since its last run?)`,
        ...where,
      })
      return
    }
    o.log.warn('alone', {
      message:
        'no other node found: nodes join one cluster only with the same secret, through a ' +
        '--bootstrap they can reach, with their DHT ports open to each other; alone, this node ' +
        'works by itself',
      ...where,
    })
  }, o.afterMs ?? 5000)
  return () => o.clock.clearTimeout(timer)
}
