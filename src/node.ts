/**
 * A node: opens its parts in order (HTTP port, store, log, files, links, membership, downloads,
 * web) and closes them in reverse. Clock, generator and logger are injectable, so tests can run
 * several nodes in one process.
 */
import { mkdir } from 'node:fs/promises'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { usesDefaultBootstrap, type Config } from './config.ts'
import { machineRegistryDir } from './cluster/machine-registry.ts'
import { createLogger, type Logger } from './logger.ts'
import { limitRepeats } from './log-repeats.ts'
import { systemClock, type Clock } from './clock.ts'
import { Closers } from './closers.ts'
import type { FreeBytes } from './disk-space.ts'
import { healthProblems, healthWarnings, type Health } from './health.ts'
import type { RecordLog } from './store/record-log.ts'
import type { DiskFileStore } from './store/disk-files.ts'
import { FileTransfer } from './cluster/file-transfer.ts'
import { openStorage } from './node-storage.ts'
import { openCluster } from './node-cluster.ts'
import type { Cluster } from './cluster/cluster.ts'
import type { Relay } from './cluster/relay.ts'
import { loadIdentity } from './identity.ts'
import { startOverIfAsked } from './start-over.ts'
import { RunMarker } from './run-marker.ts'
import { isLive } from './store/record.ts'
import { loadMachineSecret, machineSecretPath } from './machine-secret.ts'
import { DownloadManager } from './downloads/manager.ts'
import type { Generator } from './downloads/generator.ts'
import { createFailingGenerator, createPdfGenerator } from './downloads/pdf-generator.ts'
import { BUILT_IN_JOBS, loadGeneratorModule } from './downloads/generator-module.ts'
import { Sessions } from './web/session.ts'
import { createWebServer, listen } from './web/server.ts'
import { ClusterTime } from './cluster/cluster-time.ts'
import { Placement } from './cluster/placement.ts'
import { watchRejoin } from './cluster/rejoin.ts'
import { formatQuorumRule } from './cluster/quorum.ts'
import { watchAlone } from './cluster/alone-watch.ts'
import { topicFor } from './cluster/swarm-transport.ts'
import type { Metrics } from './metrics.ts'
import { observability } from './node-observability.ts'
import { serveMetrics } from './web/metrics-server.ts'

export const PUBLIC_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'public')

export interface NodeDeps {
  generator?: Generator
  clock?: Clock
  log?: Logger
  /** Tests only: join this swarm topic instead of the secret's. */
  topic?: Buffer
  /** Tests only: speak this cluster protocol version (an older node's, say). */
  protocol?: string
  /** Tests only: how free disk space is measured. */
  freeBytes?: FreeBytes
  /** Tests only: how long after a move the store is swept (store/core-sweep.ts). */
  sweepAfterMoveMs?: number
  /** Tests only: how long the log must be quiet for a compaction at rest (log-compaction.ts). */
  compactIdleMs?: number
}

export type { Health } from './health.ts'

export interface RunningNode {
  id: string
  name: string
  url: string
  port: number
  manager: DownloadManager
  cluster: Cluster
  relay: Relay
  /** The record log this node is on (and moves between). */
  recordLog: RecordLog
  /** The files this node has made, copied and serves. */
  files: DiskFileStore
  metrics: Metrics
  /** Where /metrics is served. */
  metricsUrl: string
  health(): Health
  /**
   * Settles with the error if the store fails for good (a write that did not reach the disk):
   * the node then refuses work, and only closing it and starting it again recovers
   * (node-runner.ts does).
   */
  failed: Promise<Error>
  close(): Promise<void>
}

export async function startNode(config: Config, deps: NodeDeps = {}): Promise<RunningNode> {
  const clock = deps.clock ?? systemClock
  // A warning that repeats is held to five a minute and a count (log-repeats.ts).
  const log = limitRepeats(deps.log ?? createLogger(config.name, { format: config.logFormat }), {
    clock,
  })
  const started = clock.now()
  // A job module that cannot be used stops the node before it opens anything.
  const ownJob =
    deps.generator ??
    (BUILT_IN_JOBS.has(config.generator) ? null : await loadGeneratorModule(config.generator))
  const secret = config.secret ?? (await loadMachineSecret())
  if (!config.secret) {
    log.info('machine-secret', {
      message: "no --secret: using this machine's cluster secret",
      path: machineSecretPath(),
    })
  }
  const id = await mkdir(config.dataDir, { recursive: true })
    // Before the identity is read: a twin's start over gives it up.
    .then(() => startOverIfAsked(config.dataDir, log))
    .then(() => loadIdentity(config.dataDir))
    .catch((err: Error) => {
      throw new Error(`cannot use the data directory ${config.dataDir} (--data): ${err.message}`)
    })
  const self = { id, name: config.name }
  // The secret's swarm topic, already public on the DHT: nodes that show the same one can meet.
  const fingerprint = (deps.topic ?? topicFor(secret)).toString('hex').slice(0, 8)
  const closers = new Closers(log)
  try {
    // First opened, last closed: its removal says the whole stop was made (run-marker.ts).
    const marker = closers.add(
      'run marker',
      new RunMarker({ dataDir: config.dataDir, clock, log }),
      (m) => m.stop(),
    )
    const http = await listen(config.port, config.host).catch((err: Error) => {
      throw new Error(`cannot listen on ${config.host}:${config.port}: ${err.message}`)
    })
    closers.add('http', http.server, (server) => {
      if (!server.listening) return
      const closed = new Promise((resolve) => server.close(resolve))
      server.closeAllConnections()
      return closed
    })
    const host = config.host.includes(':') ? `[${config.host}]` : config.host
    const url = `http://${host}:${http.port}`

    // Record time: this node's clock corrected to the cluster's, once heartbeats tell it.
    const time = new ClusterTime(clock)
    // Record time can be trusted once compared with a member's clock; alone, a node's own clock
    // is the cluster's. Until then it neither purges (that cannot be undone) nor stamps new
    // records. Peers of an older version send no clock: after a grace, a node among only those
    // trusts its own, as it did before. (`cluster` and `rejoin` exist before it is asked.)
    const timeTrusted = () =>
      time.compared ||
      (rejoin.ready() &&
        (cluster.live().length === 1 || clock.now() - started >= CLOCK_COMPARE_GRACE_MS))
    const storage = await openStorage(config, {
      self: id,
      clock,
      time,
      mayPurge: timeTrusted,
      freeBytes: deps.freeBytes,
      sweepAfterMoveMs: deps.sweepAfterMoveMs,
      log,
      closers,
    })
    const { recordLog, files, repo, disk } = storage
    // The data directory is this node's now (its store is locked): an unclean last run is told.
    await marker.start(() =>
      repo
        .all()
        .filter((d) => d.owner === id && isLive(d))
        .map((d) => d.id),
    )

    const part = await openCluster(config, {
      self: { ...self, url },
      secret,
      recordLog,
      time,
      clock,
      log,
      closers,
      topic: deps.topic,
      protocol: deps.protocol,
      compactIdleMs: deps.compactIdleMs,
      job: ownJob?.name ?? config.generator,
      startOver: storage.startOver,
      full: () => disk.state.low,
    })
    const { cluster, relay, rejoin, quorum } = part
    files.attach(new FileTransfer(part.transport, { files, clock, log }))

    const seen = observability({
      config,
      clock,
      now: () => time.now(),
      startedAt: started,
      cluster,
      logSync: part.logSync,
      recordLog,
      repo,
      running: () => manager.running,
      stateOf: (d) => manager.stateOf(d),
      connections: () => web.connections(),
      scribe: () => part.isScribe(),
      quorum: () => quorum.state(),
      diskLow: () => disk.state.low,
      diskFree: () => disk.state.free,
      diskReserve: () => disk.state.reserve,
    })
    const { metrics } = seen

    const placement = new Placement({
      self,
      members: () => cluster.members(),
      rejoin,
      quorum,
      takesWork: (id) => cluster.takesWork(id),
    })
    const manager: DownloadManager = new DownloadManager({
      observer: seen.observer,
      repo,
      files,
      // The report's times sit beside the record's: both in cluster time.
      generator: ownJob ?? builtIn(config, { ...clock, now: () => time.now() }, log),
      self,
      placement,
      relay,
      peersTold: () => part.records.told(),
      clock,
      retentionMs: config.retentionMs,
      liveTtlMs: config.liveTtlMs,
      checkpointStep: config.checkpointStep,
      logCheckpointMs: config.logCheckpointMs,
      fileCopies: config.fileCopies,
      attempts: config.attempts,
      retryMs: config.retryMs,
      purgeIntervalMs: config.purgeIntervalMs,
      actionBurst: config.actionBurst,
      actionIntervalMs: 60_000 / config.actionsPerMinute,
      timeTrusted,
      quorum: () => quorum.state(),
      cutOff: () => quorum.cutOff(),
      log,
    })
    closers.add('downloads', manager, (m) => m.close())

    storage.onProblem((problem) => manager.storage(problem))
    // Before /healthz is served: it asks whether this node is an island.
    const alone = watchAlone({
      met: () => cluster.members().length > 1,
      secretFrom: config.secret ? '--secret or CLUSTER_SECRET' : machineSecretPath(),
      fingerprint,
      bootstrap: config.bootstrap,
      registry: usesDefaultBootstrap(config) ? machineRegistryDir() : null,
      knownBefore: () => part.known.namesBefore(),
      reached: () => part.transport.bootstrapReached(),
      candidates: () => part.transport.bootstrapCandidates(),
      dhtPort: config.dhtPort,
      clock,
      log,
    })
    closers.add('alone-watch', alone, (a) => a.stop())
    const nameOf = (id: string | null) =>
      id === null ? null : (cluster.members().find((m) => m.id === id)?.name ?? null)
    const health = (): Health => {
      const quorumNow = quorum.state()
      const problems = healthProblems({
        ...storage.signals(),
        quorum: quorumNow,
        adopt: part.logSync.adoptProblem(),
      })
      return {
        ok: problems.length === 0,
        problems,
        warnings: healthWarnings({
          skewedClocks: cluster.skewedClocks(),
          quorum: quorumNow,
          alone: alone.state(),
        }),
        id,
        name: config.name,
        uptimeMs: clock.now() - started,
        running: manager.running,
        records: repo.all().length,
        members: cluster.live().length,
        log: (({ key, writers, writable, length, generation }) => ({
          key,
          writers,
          writable,
          length: recordLog.ops(),
          blocks: length,
          generation,
          scribe: part.scribe(),
          scribeName: nameOf(part.scribe()),
          isScribe: part.isScribe(),
          handed: part.records.stats.handed,
          writtenFor: part.records.stats.scribed,
        }))(recordLog.advert()),
        clock: { aheadMs: Math.round(time.aheadMs), compared: time.compared },
        quorum: { ...quorumNow, rule: formatQuorumRule(config.quorum) },
        joining: quorumNow.ok && (!placement.mayWork() || !timeTrusted()),
      }
    }
    const ownMetricsPort = config.metricsPort !== null
    const web = createWebServer({
      fileLabel: manager.fileLabel,
      ...(!ownMetricsPort && { metrics: () => metrics.scrape() }),
      status: seen.status,
      server: http.server,
      downloads: manager,
      sessions: new Sessions(secret),
      publicDir: PUBLIC_DIR,
      log,
      clock,
      health,
      cluster: () => ({ self: cluster.self, members: cluster.members() }),
      trustedOrigins: () => [...config.allowOrigins, ...cluster.members().map((m) => m.url)],
      members: () =>
        cluster
          .members()
          .filter((m) => m.status === 'alive')
          .map(({ id, name, url, status }) => ({ id, name, url, status })),
      cutOff: () => {
        if (!quorum.cutOff()) return null
        const state = quorum.state()
        return {
          message: `This server is cut off from most of its cluster (it reaches ${state.reachable} of ${state.voters} servers).`,
          members: part.unreached(),
        }
      },
    })
    closers.add('web', web, (w) => w.close())
    let metricsUrl = `${url}/metrics`
    if (config.metricsPort !== null) {
      const metricsHost = config.metricsHost ?? config.host
      const served = await serveMetrics(metricsHost, config.metricsPort, () => metrics.scrape())
      closers.add('metrics', served.server, (s) => new Promise((resolve) => s.close(resolve)))
      const h = metricsHost.includes(':') ? `[${metricsHost}]` : metricsHost
      metricsUrl = `http://${h}:${served.port}/metrics`
    }

    quorum.on('change', (state) => {
      manager.quorumChanged(state)
      web.membersChanged()
    })
    // Joining or rejoining without its quorum for too long: its pages are told it is cut off.
    quorum.on('grace-over', () => web.membersChanged())
    cluster.on('member', (event) => {
      if (event.type !== 'suspect') manager.membershipChanged()
      if (event.type === 'joined' || event.type === 'alive') manager.memberBack(event.member.id)
      web.membersChanged()
    })
    closers.add(
      'rejoin-watch',
      watchRejoin(rejoin, clock, log, () => manager.membershipChanged()),
      (stop) => stop(),
    )
    // Quiet long enough for the log to show any takeover that happened while we stood still.
    cluster.on('stalled', () => manager.fence(2 * (config.suspectAfterMs + config.suspicionMs)))

    await disk.start()
    await part.start()
    manager.start()
    alone.start()
    log.info('started', {
      id,
      url,
      cluster: fingerprint,
      data: config.dataDir,
      dht: config.dhtPort,
      metrics: metricsUrl,
      log: recordLog.key.toString('hex').slice(0, 12),
    })
    let stopping: Promise<void> | null = null
    return {
      id,
      name: config.name,
      url,
      port: http.port,
      manager,
      cluster,
      relay,
      recordLog,
      files,
      metrics,
      metricsUrl,
      health,
      failed: storage.failed,
      close: () =>
        (stopping ??= (marker.stopping(), closers.closeAll()).finally(() => {
          log.close()
          log.info('stopped')
        })),
    }
  } catch (err) {
    // What failed to start is the error worth reporting; a failed close is logged by closers.
    await closers.closeAll().catch(() => {})
    log.close()
    throw err
  }
}

/** How long a node among peers that send no clock waits before it trusts its own. */
const CLOCK_COMPARE_GRACE_MS = 10_000

function builtIn(config: Config, clock: Clock, log: Logger): Generator {
  return config.generator === 'failing'
    ? createFailingGenerator({ workMs: config.workMs, failAtPercent: 50, clock, log })
    : createPdfGenerator({ workMs: config.workMs, clock, log })
}
