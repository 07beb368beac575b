/**
 * A node: composes the store, the record log, the download manager and the web server, and
 * tears them down in reverse order. Clock, generator and logger are injectable so tests can
 * run several nodes in one process.
 */
import { mkdir } from 'node:fs/promises'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import Corestore from 'corestore'
import type { Config } from './config.ts'
import { createLogger, type Logger } from './logger.ts'
import { loadIdentity } from './identity.ts'
import { RecordLog } from './store/record-log.ts'
import { LogRepository } from './store/repository.ts'
import { BlobFileStore } from './store/file-store.ts'
import { DownloadManager } from './downloads/manager.ts'
import type { Generator } from './downloads/generator.ts'
import { createFailingGenerator, createPdfGenerator } from './downloads/pdf-generator.ts'
import { Sessions } from './web/session.ts'
import { createWebServer } from './web/server.ts'
import { SwarmTransport } from './cluster/transport.ts'
import { Cluster } from './cluster/cluster.ts'
import { Placement } from './cluster/placement.ts'
import { Relay } from './cluster/relay.ts'

export const PUBLIC_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'public')

export interface NodeDeps {
  generator?: Generator
  now?: () => number
  log?: Logger
  /** Tests only: join this swarm topic instead of the secret's. */
  topic?: Buffer
}

export interface RunningNode {
  id: string
  name: string
  url: string
  port: number
  manager: DownloadManager
  cluster: Cluster
  relay: Relay
  close(): Promise<void>
}

export async function startNode(config: Config, deps: NodeDeps = {}): Promise<RunningNode> {
  const log = deps.log ?? createLogger(config.name)
  const now = deps.now ?? Date.now
  const started = now()
  if (config.devSecret) {
    log.warn('dev-secret', {
      message: 'no --secret given: using the development secret; do not use it in production',
    })
  }
  await mkdir(config.dataDir, { recursive: true })
  const id = await loadIdentity(config.dataDir)
  const self = { id, name: config.name }

  const store = new Corestore(join(config.dataDir, 'store'))
  const recordLog = new RecordLog({
    store,
    dataDir: config.dataDir,
    now,
    onError: (err) => log.error('log-error', { error: err.message }),
  })
  try {
    await recordLog.ready()
  } catch (err) {
    await recordLog.close().catch(() => {})
    await store.close().catch(() => {})
    throw new Error(`cannot open the store in ${config.dataDir}: ${(err as Error).message}`)
  }

  const files = new BlobFileStore(store)
  await files.ready()
  const repo = new LogRepository({
    log: recordLog,
    now,
    tombstoneMs: Math.max(config.liveTtlMs, config.retentionMs),
  })
  const generator =
    deps.generator ??
    (config.generator === 'failing'
      ? createFailingGenerator({ workMs: config.workMs, failAtPercent: 50 })
      : createPdfGenerator({ workMs: config.workMs }))
  const transport = new SwarmTransport({
    secret: config.secret,
    host: config.host,
    dhtPort: config.dhtPort,
    bootstrap: config.bootstrap,
    log,
    topic: deps.topic,
  })
  const relay = new Relay(transport, log)
  let cluster = null as Cluster | null
  const placement = new Placement({
    self,
    members: () => cluster?.members() ?? [{ ...self, url: '', incarnation: 0, status: 'alive' }],
    uptimeMs: () => now() - started,
  })
  const manager = new DownloadManager({
    repo,
    files,
    generator,
    self,
    placement,
    relay,
    now,
    retentionMs: config.retentionMs,
    liveTtlMs: config.liveTtlMs,
    checkpointStep: config.checkpointStep,
    purgeIntervalMs: config.purgeIntervalMs,
    log,
  })

  const web = createWebServer({
    manager,
    sessions: new Sessions(config.secret),
    publicDir: PUBLIC_DIR,
    log,
    health: () => ({
      ok: true,
      id,
      name: config.name,
      uptimeMs: now() - started,
      running: manager.running,
      members: cluster ? cluster.live().length : 1,
      log: (({ key, writers, writable }) => ({ key, writers, writable }))(recordLog.advert()),
    }),
    cluster: () => ({ self: cluster?.self ?? null, members: cluster?.members() ?? [] }),
    trustedOrigins: () => [
      ...config.allowOrigins,
      ...(cluster ? cluster.members().map((m) => m.url) : []),
    ],
    members: () =>
      (cluster?.members() ?? [])
        .filter((m) => m.status === 'alive')
        .map(({ id, name, url, status }) => ({ id, name, url, status })),
  })
  let port: number
  try {
    port = await web.listen(config.port, config.host)
  } catch (err) {
    await recordLog.close().catch(() => {})
    await store.close().catch(() => {})
    throw new Error(`cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`)
  }
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`
  const running = new Cluster({
    self: { id, name: config.name, url },
    transport,
    recordLog,
    timings: {
      heartbeatMs: config.heartbeatMs,
      suspectAfterMs: config.suspectAfterMs,
      suspicionMs: config.suspicionMs,
    },
    now,
    log,
  })
  cluster = running
  running.on('member', (event) => {
    if (event.type !== 'suspect') manager.membershipChanged()
    web.membersChanged()
  })
  // Quiet long enough for the log to show any takeover that happened while we stood still.
  running.on('stalled', () => manager.fence(2 * (config.suspectAfterMs + config.suspicionMs)))
  try {
    await running.start()
  } catch (err) {
    await web.close()
    await running.close().catch(() => {})
    await recordLog.close().catch(() => {})
    await store.close().catch(() => {})
    throw err
  }
  manager.start()
  log.info('started', {
    id,
    url,
    data: config.dataDir,
    dht: config.dhtPort,
    log: recordLog.key.toString('hex').slice(0, 12),
  })

  let closing: Promise<void> | null = null
  return {
    id,
    name: config.name,
    url,
    port,
    manager,
    cluster: running,
    relay,
    close() {
      closing ??= (async () => {
        await web.close()
        await manager.close()
        await running.close()
        await files.close()
        await recordLog.close()
        await store.close()
        log.info('stopped')
      })()
      return closing
    },
  }
}
