/**
 * A node's place in its cluster, as one part: the links (hyperswarm), membership and cluster
 * time, keeping one log (sync and compaction), the relay, the members it has known, what it
 * waits for after a restart (rejoin) and whether it reaches its quorum. node.ts composes it
 * with the storage, the downloads and the web.
 */
import { usesDefaultBootstrap, type Config } from './config.ts'
import type { Clock } from './clock.ts'
import type { Logger } from './logger.ts'
import type { Closers } from './closers.ts'
import type { RecordLog } from './store/record-log.ts'
import { carriedOps, unexpired } from './store/record-table.ts'
import { SwarmTransport } from './cluster/swarm-transport.ts'
import { Cluster } from './cluster/cluster.ts'
import type { ClusterTime } from './cluster/cluster-time.ts'
import { LogSync } from './cluster/log-sync.ts'
import { LogCompaction } from './cluster/log-compaction.ts'
import { Relay } from './cluster/relay.ts'
import { KnownMembers } from './cluster/known-members.ts'
import { Rejoin } from './cluster/rejoin.ts'
import { QuorumWatch } from './cluster/quorum-watch.ts'
import { RecordBroadcast } from './cluster/record-broadcast.ts'
import { chooseScribe } from './cluster/scribe.ts'
import { machineRegistryDir } from './cluster/machine-registry.ts'
import type { PublicMember } from './web/protocol.ts'
import type { StartOverReason } from './start-over.ts'

export interface ClusterPartOptions {
  self: { id: string; name: string; url: string }
  secret: string
  recordLog: RecordLog
  /** Record time, fed by the heartbeats. */
  time: ClusterTime
  clock: Clock
  log: Logger
  /** What is opened here is closed from this list, in reverse. */
  closers: Closers
  /** Tests only: join this swarm topic instead of the secret's. */
  topic?: Buffer
  /** Tests only: speak this cluster protocol version. */
  protocol?: string
  /** Tests only: how long the log must be quiet for a compaction at rest. */
  compactIdleMs?: number
  /** The job this node runs, told to the others (a mismatch is logged). */
  job?: string
  /** Whether this node takes no new downloads now (its disk is low), told to the others. */
  full?: () => boolean
  /** Stops the node, to start again as a new member (a twin gives its id up: cluster/twin.ts). */
  startOver: (reason: StartOverReason) => void
}

export interface ClusterPart {
  transport: SwarmTransport
  cluster: Cluster
  logSync: LogSync
  compaction: LogCompaction
  relay: Relay
  known: KnownMembers
  rejoin: Rejoin
  quorum: QuorumWatch
  records: RecordBroadcast
  /** The member this node hands its writes to the log to (scribe.ts); null: it writes them. */
  scribe(): string | null
  /** Whether this node is the scribe: a writer of its log that no one else comes before. */
  isScribe(): boolean
  /** The members that vote and that this node cannot reach, for its pages to go to. */
  unreached(): PublicMember[]
  /** Starts the links, the heartbeats, the log's sync and compaction, and the quorum's watch. */
  start(): Promise<void>
}

/** How long an owner not heard of since a restart may still take to come back (rejoin.ts). */
const UNHEARD_OWNER_GRACE_MS = 5000
/**
 * How long a peer's records sent beside the log are kept, to be written here if it dies before
 * its log replicated them, and how long it has to confirm its own write of them before they
 * are written here (record-broadcast.ts): far longer than a write or replication takes.
 */
const BROADCAST_KEEP_MS = 10_000

export async function openCluster(config: Config, o: ClusterPartOptions): Promise<ClusterPart> {
  const { self, recordLog, time, clock, log, closers } = o
  const transport = new SwarmTransport({
    secret: o.secret,
    host: config.host,
    dhtPort: config.dhtPort,
    bootstrap: config.bootstrap,
    registryDir: usesDefaultBootstrap(config) ? machineRegistryDir() : null,
    log,
    topic: o.topic,
    protocol: o.protocol,
  })
  closers.add('transport', transport, (t) => t.close())
  const cluster: Cluster = new Cluster({
    self,
    transport,
    timings: {
      heartbeatMs: config.heartbeatMs,
      suspectAfterMs: config.suspectAfterMs,
      suspicionMs: config.suspicionMs,
    },
    clock,
    time,
    maxClockSkewMs: config.maxClockSkewMs,
    // The quorum is made below; the cluster asks only once started.
    mayDeclareDead: () => quorum.holds(),
    job: o.job,
    full: o.full,
    log,
  })
  closers.add('cluster', cluster, (c) => c.close())
  cluster.on('twin', ({ url, yields }) => {
    const what = `another process runs with this node's id, at ${url}: two nodes started from one data directory (a cloned machine, or a copy of the directory started beside it)`
    if (!yields)
      return log.warn('twin-node', {
        url,
        message: `${what}; it started later, and gives the id up to start over as a new member`,
      })
    log.error('twin-node', {
      url,
      message: `${what}; it started first, so this node gives the id up and starts over as a new member (its store and node-id set aside)`,
    })
    o.startOver({ why: `another process runs with this node's id, at ${url}`, newIdentity: true })
  })
  const logSync = new LogSync({
    transport,
    log: recordLog,
    nameOf: (memberId) => cluster.member(memberId)?.name,
    clock,
    logger: log,
  })
  closers.add('log-sync', logSync, (s) => s.close())
  const compaction = new LogCompaction({
    log: recordLog,
    records: () => {
      const now = time.now()
      return unexpired(carriedOps(recordLog.table, now), now).length
    },
    // One member starts it: the live one with the smallest id.
    leads: () => cluster.live().every((m) => m.id >= self.id),
    hasLiveWriter: () => {
      if (recordLog.writable) return true
      const live = new Set(cluster.live().map((m) => m.id))
      return logSync.writersOf(recordLog.key.toString('hex')).some((id) => live.has(id))
    },
    thresholdOps: config.logCompactOps,
    idleMs: o.compactIdleMs,
    clock,
    logger: log,
  })
  closers.add('log-compaction', compaction, (c) => c.stop())
  const relay = new Relay(transport, log)
  const known = await KnownMembers.load(config.dataDir, self.id)
  closers.add('known-members', known, (k) => k.flush())
  const rejoin = new Rejoin({
    selfId: self.id,
    knownBefore: known.before,
    live: () => cluster.live().map((m) => m.id),
    synced: (ids) => logSync.syncedWith(ids),
    clock,
    maxWaitMs: config.rejoinWaitMs,
    graceMs: UNHEARD_OWNER_GRACE_MS,
  })
  const quorum: QuorumWatch = new QuorumWatch({
    rule: config.quorum,
    selfId: self.id,
    voters: () => known.ids(),
    reaches: (member) => cluster.reaches(member),
    silentMs: (member) => cluster.silentMs(member),
    nameOf: (member) => cluster.member(member)?.name,
    statusOf: (member) => cluster.member(member)?.status,
    forget: (member) => known.forget(member),
    forgetDeadMs: config.forgetDeadMs,
    caughtUp: (members, since) => logSync.caughtUpSince(members, since),
    intervalMs: config.heartbeatMs,
    leaseMs: config.suspectAfterMs,
    deadAfterMs: config.suspectAfterMs + config.suspicionMs,
    clock,
    log,
  })
  closers.add('quorum', quorum, (q) => q.stop())
  // One member writes the log for the cluster (scribe.ts): the writer of it with the smallest
  // id, one with room on its disk first.
  const scribeFor = (key: string): string | null => {
    const onLog = new Set(logSync.writersOf(key))
    const peers = cluster.live().filter((m) => m.id !== self.id && onLog.has(m.id))
    const writable = recordLog.writable && recordLog.key.toString('hex') === key
    return chooseScribe(
      { id: self.id, writable, full: o.full?.() },
      peers.map((m) => ({ id: m.id, writable: true, full: !cluster.takesWork(m.id) })),
    )
  }
  // Undefined when no scribe applies: with --log-writers each, or before this node is a writer
  // of its log (it hands nothing over then: it waits to become one, record-log.ts).
  const scribeNow = (): string | null | undefined =>
    config.logWriters === 'one' && recordLog.writable
      ? scribeFor(recordLog.key.toString('hex'))
      : undefined
  const records = new RecordBroadcast({
    transport,
    log: recordLog,
    clock,
    keepMs: BROADCAST_KEEP_MS,
    selfId: self.id,
    mayAct: () => quorum.mayAct(),
    scribeFor: config.logWriters === 'one' ? scribeFor : undefined,
    logger: log,
  })
  closers.add('record broadcast', records, (r) => r.stop())
  // Before anyone else hears of a change: who votes, and whether they are reached, first.
  cluster.on('member', (event) => {
    known.update(cluster.members())
    quorum.check()
    if (event.type === 'dead') records.memberGone(event.member.id)
  })

  return {
    transport,
    cluster,
    logSync,
    compaction,
    relay,
    known,
    rejoin,
    quorum,
    records,
    scribe: () => scribeNow() ?? null,
    isScribe: () => scribeNow() === null,
    unreached() {
      const voters = new Set(known.ids())
      return cluster
        .members()
        .filter((m) => voters.has(m.id) && m.status !== 'left' && !cluster.reaches(m.id))
        .map(({ id, name, url, status }) => ({ id, name, url, status }))
    },
    async start() {
      await transport.start()
      cluster.start()
      quorum.start()
      logSync.start()
      compaction.start()
    },
  }
}
