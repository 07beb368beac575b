/**
 * Every knob of a node in one place: the settings with their units in the names, their
 * defaults, what values each takes, and the checks across settings. flags.ts reads them from
 * the command line and the environment.
 */
import { nanoid } from 'nanoid'
import type { LogFormat } from './logger.ts'

/** How many members a node must reach to act for its cluster (cluster/quorum.ts). */
export type QuorumRule =
  /** More than half of the voting members (the default). */
  | { kind: 'majority' }
  /** At least this many members, this node included: an operator's fixed number. */
  | { kind: 'count'; count: number }
  /** Always: availability over safety, as before quorums existed. */
  | { kind: 'off' }

export interface HostPort {
  host: string
  port: number
}

export interface Config {
  /** HTTP port (0: any free one). */
  port: number
  host: string
  name: string
  dataDir: string
  /** How long the default generator works on one file. */
  workMs: number
  /** How long a finished download (and its file) stays available. */
  retentionMs: number
  /** How long a running download's record lives without being renewed by its worker. */
  liveTtlMs: number
  /** The cluster secret; null when none was given and this machine's is used (machine-secret.ts). */
  secret: string | null
  /** 'pdf', 'failing', or the path of a job module (generator-module.ts), from the working directory. */
  generator: string
  /** How many attempts a download may take in all: a generator that throws is retried. */
  attempts: number
  /** The first wait before a retry; it doubles with each (downloads/retry-policy.ts). */
  retryMs: number
  /** Where /metrics is served apart from the page (null: on the HTTP port, at /metrics). */
  metricsPort: number | null
  /** The address the metrics port binds (null: --host). */
  metricsHost: string | null
  /** Log lines as readable text, or one JSON object per line (logger.ts). */
  logFormat: LogFormat
  /** Percent of progress between two checkpoints sent to the successors (worker.ts). */
  checkpointStep: number
  /** The least time between two checkpoints a worker writes to the log (it relays the rest). */
  logCheckpointMs: number
  /** Log length past which the cluster compacts it into a fresh log (0: never). */
  logCompactOps: number
  /**
   * How many nodes besides its maker copy each file once it is ready: the next in its user's
   * ranking, who would take the user's downloads over (downloads/housekeeper.ts).
   */
  fileCopies: number
  /** Group commit: how long a node gathers its appends to the log before writing them. */
  logBatchMs: number
  /**
   * Who writes the log: 'one' member (the scribe) for the cluster, every node handing it what
   * it writes, or 'each' node its own (cluster/scribe.ts).
   */
  logWriters: 'one' | 'each'
  /** How often expired records are purged and every worker is reconciled. */
  purgeIntervalMs: number
  /** UDP port of this node's DHT node (0: any free port). */
  dhtPort: number
  /** DHT nodes to join through. */
  bootstrap: HostPort[]
  /** How often a node heartbeats every peer (and repeats its log advert). */
  heartbeatMs: number
  /** Silence after which a member is suspected. */
  suspectAfterMs: number
  /** How long a suspicion stands before the member is declared dead. */
  suspicionMs: number
  /** Origins (a load balancer's, say) whose pages may open a WebSocket besides the members'. */
  allowOrigins: string[]
  /** Requests and dismissals one user may make per minute, on one node... */
  actionsPerMinute: number
  /** ...after a burst of this many at once. */
  actionBurst: number
  /** The longest a restarted node waits for a majority of its cluster before it acts alone. */
  rejoinWaitMs: number
  /** Free disk space below which the node stops writing (refuses downloads, pauses workers). */
  minFreeMb: number
  /** A member's clock further than this from cluster time is reported (cluster/clock-skew.ts). */
  maxClockSkewMs: number
  /** How many members a node must reach to act for the cluster (cluster/quorum.ts). */
  quorum: QuorumRule
  /** How long a member may be dead before a node that holds its quorum stops counting it. */
  forgetDeadMs: number
}

/**
 * A setting that cannot be used; the message is one line naming the flag, `code` is for apps
 * that cannot use `instanceof`.
 */
export class ConfigError extends Error {
  readonly code = 'config' as const
}

/** With no --dht-port, a node's DHT listens here above its HTTP port. */
export const DHT_PORT_OFFSET = 10_000

export const DEFAULTS = {
  port: 4000,
  host: '127.0.0.1',
  workMs: 6000,
  retentionMs: 600_000,
  liveTtlMs: 120_000,
  generator: 'pdf',
  attempts: 3,
  retryMs: 1000,
  metricsPort: null,
  metricsHost: null,
  logFormat: 'text',
  checkpointStep: 10,
  logCheckpointMs: 10_000,
  logCompactOps: 10_000,
  fileCopies: 1,
  logBatchMs: 200,
  logWriters: 'one',
  purgeIntervalMs: 1000,
  /** With no --bootstrap, nodes join through the DHTs of HTTP ports 4000-4009 on this machine. */
  bootstrap: Array.from({ length: 10 }, (_, i) => ({
    host: '127.0.0.1',
    port: 4000 + i + DHT_PORT_OFFSET,
  })),
  heartbeatMs: 100,
  suspectAfterMs: 500,
  suspicionMs: 300,
  actionsPerMinute: 30,
  actionBurst: 10,
  rejoinWaitMs: 60_000,
  minFreeMb: 64,
  maxClockSkewMs: 1000,
  quorum: { kind: 'majority' } as QuorumRule,
  forgetDeadMs: 3_600_000,
} as const satisfies Partial<Config>

/** Fills in the defaults and checks the settings against each other. */
export function resolveConfig(settings: Partial<Config>): Config {
  // A setting given as undefined is a setting not given: it takes its default.
  const given = Object.fromEntries(
    Object.entries(settings).filter(([, v]) => v !== undefined),
  ) as Partial<Config>
  const port = given.port ?? DEFAULTS.port
  // A node on any free port is named before it knows the port: a suffix keeps names apart.
  const name = given.name ?? (port === 0 ? `node-${nanoid(6)}` : `node-${port}`)
  const dhtPort = given.dhtPort ?? (port === 0 ? 0 : port + DHT_PORT_OFFSET)
  if (dhtPort > 65535)
    throw new ConfigError(
      `--dht-port must be given when --port is above ${65535 - DHT_PORT_OFFSET}`,
    )
  const host = given.host ?? DEFAULTS.host
  const metricsHost = given.metricsHost ?? host
  const anyAddress = (h: string) => h === '0.0.0.0' || h === '::'
  if (
    port !== 0 &&
    given.metricsPort === port &&
    (metricsHost === host || anyAddress(metricsHost) || anyAddress(host))
  )
    throw new ConfigError(
      `--metrics-port must differ from --port (${port}): the page and the metrics cannot share a port on one address`,
    )
  if (!given.secret && !isLoopback(host)) {
    throw new ConfigError(
      `--host ${host} takes connections from other machines: give the cluster a secret with --secret (or CLUSTER_SECRET)`,
    )
  }
  const heartbeatMs = given.heartbeatMs ?? DEFAULTS.heartbeatMs
  const suspectAfterMs = given.suspectAfterMs ?? DEFAULTS.suspectAfterMs
  if (suspectAfterMs < 3 * heartbeatMs) {
    throw new ConfigError(
      `--suspect-after-ms (${suspectAfterMs}) must be at least 3 heartbeats (--heartbeat-ms ${heartbeatMs})`,
    )
  }
  return {
    ...DEFAULTS,
    bootstrap: [...DEFAULTS.bootstrap],
    allowOrigins: [],
    ...given,
    port,
    name,
    dataDir: given.dataDir ?? `.data/${name}`,
    secret: given.secret ?? null,
    dhtPort,
    heartbeatMs,
    suspectAfterMs,
  }
}

/** Whether only this machine can reach an address: 127.0.0.0/8, ::1 or localhost. */
/** Whether no --bootstrap was given: then the nodes of this machine find each other themselves. */
export function usesDefaultBootstrap(config: Pick<Config, 'bootstrap'>): boolean {
  return JSON.stringify(config.bootstrap) === JSON.stringify(DEFAULTS.bootstrap)
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

// Values, each parsed from a string or refused with a one-line ConfigError naming the flag.

export function positiveMs(flag: string, v: string): number {
  const n = Number(v)
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n <= 0) {
    throw new ConfigError(
      `${flag} must be a whole number of milliseconds above 0, got ${JSON.stringify(v)}`,
    )
  }
  return n
}

export function positiveCount(flag: string, v: string): number {
  const n = Number(v)
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n <= 0) {
    throw new ConfigError(`${flag} must be a whole number above 0, got ${JSON.stringify(v)}`)
  }
  return n
}

export function portNumber(flag: string, v: string): number {
  const n = Number(v)
  if (!/^\d+$/.test(v) || n > 65535) {
    throw new ConfigError(`${flag} must be a port number 0-65535, got ${JSON.stringify(v)}`)
  }
  return n
}

/** Parses "host:port,host:port". Throws with a message naming the bad entry. */
export function parseHostPorts(value: string): HostPort[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const m = /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry)
      const port = Number(m?.[2])
      if (!m || port < 1 || port > 65535) throw new Error(`"${entry}" is not host:port`)
      return { host: m[1] as string, port }
    })
}

/** Parses comma-separated http(s) origins into their canonical form. */
export function parseOrigins(flag: string, v: string): string[] {
  return v.split(',').map((s) => {
    try {
      const u = new URL(s.trim())
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error()
      return u.origin
    } catch {
      throw new ConfigError(
        `${flag} must be http(s) origins, comma-separated, got ${JSON.stringify(s)}`,
      )
    }
  })
}
