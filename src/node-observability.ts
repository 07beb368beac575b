/**
 * A node's observability, wired: its metrics (metrics.ts), the events and figures of the
 * status page (status-service.ts), and the observer the downloads layer tells (both at once).
 * What is made after it (the manager, the web server) is asked for through functions.
 */
import type { Config } from './config.ts'
import type { Clock } from './clock.ts'
import type { Cluster } from './cluster/cluster.ts'
import type { LogSync } from './cluster/log-sync.ts'
import type { RecordLog } from './store/record-log.ts'
import type { DownloadRepository } from './store/repository.ts'
import type { Download } from './store/record.ts'
import { Metrics } from './metrics.ts'
import { StatusEvents, listedEvent } from './cluster-status.ts'
import { statusService } from './status-service.ts'
import { dirBytesEvery } from './disk-space.ts'
import { fanOut, noObserver, type DownloadObserver } from './downloads/observer.ts'
import type { QuorumState } from './cluster/quorum.ts'

export interface ObservabilityOptions {
  config: Config
  clock: Clock
  /** Cluster time: events from several nodes sort together. */
  now(): number
  startedAt: number
  cluster: Cluster
  logSync: LogSync
  recordLog: RecordLog
  repo: DownloadRepository
  /** A download's state as this node can tell (the manager's `stateOf`). */
  stateOf(d: Download): Download['state']
  running(): number
  connections(): number
  /** Whether this node is the cluster's scribe (cluster/scribe.ts). */
  scribe(): boolean
  /** Whether it reaches its quorum (cluster/quorum-watch.ts). */
  quorum(): QuorumState
  /** Whether its disk is below its reserve (disk-space.ts). */
  diskLow(): boolean
  /** The free bytes last measured there (Infinity before the first). */
  diskFree(): number
  /** The reserve it keeps (--min-free-mb), in bytes. */
  diskReserve(): number
}

export function observability(o: ObservabilityOptions) {
  const dataBytes = dirBytesEvery(o.config.dataDir, 5000, o.clock)
  const metrics = new Metrics({
    downloads: () => o.repo.all().map((d) => ({ ...d, state: o.stateOf(d) })),
    workersRunning: o.running,
    members: () => o.cluster.members(),
    logLength: () => o.recordLog.ops(),
    logBehind: () => o.logSync.behind(),
    dataBytes,
    diskFree: () => (Number.isFinite(o.diskFree()) ? o.diskFree() : NaN),
    diskLow: o.diskLow,
    diskReserve: o.diskReserve,
    websocketConnections: o.connections,
  })
  o.cluster.on('rtt', (_member, ms) => metrics.heartbeat(ms / 1000))
  o.recordLog.on('reopened', () => metrics.logReopened())
  o.cluster.on('stalled', () => metrics.stalled())

  const events = new StatusEvents()
  const startedAt = o.cluster.self.incarnation
  /** The incarnation each member was last heard at. */
  const known = new Map<string, number>()
  o.cluster.on('member', ({ type, member }) => {
    const kind = listedEvent(type, member, startedAt, known.get(member.id) ?? null)
    known.set(member.id, member.incarnation)
    if (kind) events.add({ at: o.now(), kind, node: member.name, incarnation: member.incarnation })
  })
  const takeovers: DownloadObserver = {
    ...noObserver,
    tookOver: (from, progress) =>
      events.add({
        at: o.now(),
        kind: 'takeover',
        node: o.config.name,
        incarnation: o.cluster.self.incarnation,
        detail: `from ${from} at ${progress} %`,
      }),
  }
  const status = statusService({
    self: () => ({
      id: o.cluster.self.id,
      name: o.cluster.self.name,
      url: o.cluster.self.url,
      incarnation: o.cluster.self.incarnation,
      uptimeMs: o.clock.now() - o.startedAt,
      running: o.running(),
      logLength: o.recordLog.ops(),
      scribe: o.scribe(),
      quorum: o.quorum(),
      ...(o.diskLow() && { diskLow: true as const }),
    }),
    dataBytes,
    events,
    members: () => o.cluster.members(),
    now: o.now,
  })
  return { metrics, status, observer: fanOut(metrics, takeovers) }
}
