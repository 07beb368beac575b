/**
 * Every flag of a node: its environment variable, its key in the config, its default and help
 * line, and how its text is read (refused with a one-line ConfigError naming the flag). The
 * command line (flags.ts) and the library's settings (settings.ts) both check by these rules.
 */
import {
  ConfigError,
  DEFAULTS,
  parseHostPorts,
  parseOrigins,
  portNumber,
  positiveCount,
  positiveMs,
  type Config,
} from './config.ts'
import { formatQuorumRule, parseQuorumRule } from './cluster/quorum.ts'

export interface Flag {
  flag: string
  env: string
  key: keyof Config
  default: string
  help: string
  parse: (v: string) => unknown
}

const ms = (flag: string) => (v: string) => positiveMs(flag, v)
/** A longer window would hold a write near the time its peers give up waiting for it. */
const MAX_LOG_BATCH_MS = 1000

export const FLAGS: Flag[] = [
  {
    flag: '--port',
    env: 'PORT',
    key: 'port',
    default: String(DEFAULTS.port),
    help: 'HTTP port (0 picks a free one)',
    parse: (v) => portNumber('--port', v),
  },
  {
    flag: '--host',
    env: 'HOST',
    key: 'host',
    default: DEFAULTS.host,
    help: 'address to bind',
    parse: (v) => {
      if (!/^[A-Za-z0-9.:_-]+$/.test(v))
        throw new ConfigError(`--host must be an address to bind, got ${JSON.stringify(v)}`)
      return v
    },
  },
  {
    flag: '--name',
    env: 'NODE_NAME',
    key: 'name',
    default: 'node-<port>',
    help: 'node name shown in logs and on the page',
    parse: (v) => {
      if (!/^[A-Za-z0-9_.-]{1,32}$/.test(v)) {
        throw new ConfigError(
          `--name must be 1-32 letters, digits, '.', '_' or '-', got ${JSON.stringify(v)}`,
        )
      }
      return v
    },
  },
  {
    flag: '--data',
    env: 'DATA_DIR',
    key: 'dataDir',
    default: '.data/<name>',
    help: 'data directory (store and files)',
    parse: (v) => {
      if (!v) throw new ConfigError('--data must not be empty')
      return v
    },
  },
  {
    flag: '--work-ms',
    env: 'WORK_MS',
    key: 'workMs',
    default: String(DEFAULTS.workMs),
    help: 'how long the default generator works',
    parse: ms('--work-ms'),
  },
  {
    flag: '--retention-ms',
    env: 'RETENTION_MS',
    key: 'retentionMs',
    default: String(DEFAULTS.retentionMs),
    help: 'how long a finished download stays available',
    parse: ms('--retention-ms'),
  },
  {
    flag: '--live-ttl-ms',
    env: 'LIVE_TTL_MS',
    key: 'liveTtlMs',
    default: String(DEFAULTS.liveTtlMs),
    help: 'how long a running download survives without its worker renewing it',
    parse: ms('--live-ttl-ms'),
  },
  {
    flag: '--secret',
    env: 'CLUSTER_SECRET',
    key: 'secret',
    default: "this machine's (~/.pdf-cluster)",
    help: 'cluster secret: admits peers, names the swarm topic, signs cookies; required off loopback',
    parse: (v) => {
      if (v.length < 8) throw new ConfigError('--secret must be at least 8 characters')
      return v
    },
  },
  {
    flag: '--dht-port',
    env: 'DHT_PORT',
    key: 'dhtPort',
    default: '<port>+10000',
    help: "UDP port of this node's DHT node; other nodes can bootstrap through it",
    parse: (v) => portNumber('--dht-port', v),
  },
  {
    flag: '--bootstrap',
    env: 'BOOTSTRAP',
    key: 'bootstrap',
    default: '127.0.0.1:14000-14009',
    help: 'DHT nodes to join through, host:port,…; without it, every node of this machine started without it (~/.pdf-cluster/nodes)',
    parse: (v) => {
      try {
        const list = parseHostPorts(v)
        if (list.length === 0) throw new Error('it is empty')
        return list
      } catch (err) {
        throw new ConfigError(`--bootstrap must be host:port,…: ${(err as Error).message}`)
      }
    },
  },
  {
    flag: '--heartbeat-ms',
    env: 'HEARTBEAT_MS',
    key: 'heartbeatMs',
    default: String(DEFAULTS.heartbeatMs),
    help: 'how often a node heartbeats every peer',
    parse: ms('--heartbeat-ms'),
  },
  {
    flag: '--suspect-after-ms',
    env: 'SUSPECT_AFTER_MS',
    key: 'suspectAfterMs',
    default: String(DEFAULTS.suspectAfterMs),
    help: 'silence after which a member is suspected',
    parse: ms('--suspect-after-ms'),
  },
  {
    flag: '--suspicion-ms',
    env: 'SUSPICION_MS',
    key: 'suspicionMs',
    default: String(DEFAULTS.suspicionMs),
    help: 'how long a suspicion stands before the member is declared dead',
    parse: ms('--suspicion-ms'),
  },
  {
    flag: '--allow-origin',
    env: 'ALLOW_ORIGIN',
    key: 'allowOrigins',
    default: '(none)',
    help: "extra origins whose pages may open a socket, e.g. a load balancer's, comma-separated",
    parse: (v) => parseOrigins('--allow-origin', v),
  },
  {
    flag: '--rejoin-wait-ms',
    env: 'REJOIN_WAIT_MS',
    key: 'rejoinWaitMs',
    default: String(DEFAULTS.rejoinWaitMs),
    help: 'the longest a restarted node waits for its log to catch up before it resumes work (it still needs its quorum)',
    parse: ms('--rejoin-wait-ms'),
  },
  {
    flag: '--quorum',
    env: 'QUORUM',
    key: 'quorum',
    default: formatQuorumRule(DEFAULTS.quorum),
    help: "members a node must reach to work, take over and accept downloads: 'majority', a number, or 'off' (availability over safety in a network split)",
    parse: (v) => {
      const rule = parseQuorumRule(v)
      if (!rule)
        throw new ConfigError(
          `--quorum must be 'majority', 'off' or a number of members from 1, got ${JSON.stringify(v)}`,
        )
      return rule
    },
  },
  {
    flag: '--forget-dead-ms',
    env: 'FORGET_DEAD_MS',
    key: 'forgetDeadMs',
    default: String(DEFAULTS.forgetDeadMs),
    help: 'how long a member may be dead before nodes that hold their quorum stop counting it',
    parse: ms('--forget-dead-ms'),
  },
  {
    flag: '--min-free-mb',
    env: 'MIN_FREE_MB',
    key: 'minFreeMb',
    default: String(DEFAULTS.minFreeMb),
    help: 'free disk space under which the node refuses downloads and pauses workers',
    parse: (v) => positiveCount('--min-free-mb', v),
  },
  {
    flag: '--file-copies',
    env: 'FILE_COPIES',
    key: 'fileCopies',
    default: String(DEFAULTS.fileCopies),
    help: "how many nodes besides its maker copy each file once it is ready (the next in its user's ranking); the others fetch it when asked; 0: only its maker holds it",
    parse: (v) => {
      if (!/^\d{1,3}$/.test(v))
        throw new ConfigError(
          `--file-copies must be a whole number, 0 or more, got ${JSON.stringify(v)}`,
        )
      return Number(v)
    },
  },
  {
    flag: '--log-checkpoint-ms',
    env: 'LOG_CHECKPOINT_MS',
    key: 'logCheckpointMs',
    default: String(DEFAULTS.logCheckpointMs),
    help: 'the least time between two checkpoints a worker writes to the log; the others go to the next nodes in line',
    parse: ms('--log-checkpoint-ms'),
  },
  {
    flag: '--log-compact-ops',
    env: 'LOG_COMPACT_OPS',
    key: 'logCompactOps',
    default: String(DEFAULTS.logCompactOps),
    help: 'operations a compaction would drop (those past what it carries) at which the cluster moves to a fresh log holding only the live records (0: never)',
    parse: (v) => (v === '0' ? 0 : positiveCount('--log-compact-ops', v)),
  },
  {
    flag: '--log-batch-ms',
    env: 'LOG_BATCH_MS',
    key: 'logBatchMs',
    default: String(DEFAULTS.logBatchMs),
    help: 'how long a node gathers what it writes to the log into one block (0: one turn of its event loop); peers and pages see each write at once',
    parse: (v) => {
      if (v === '0') return 0
      const n = positiveMs('--log-batch-ms', v)
      // Peers write an operation themselves once it stays unconfirmed for 10 s (kept-ops.ts).
      if (n > MAX_LOG_BATCH_MS)
        throw new ConfigError(`--log-batch-ms must be at most ${MAX_LOG_BATCH_MS}, got ${v}`)
      return n
    },
  },
  {
    flag: '--log-writers',
    env: 'LOG_WRITERS',
    key: 'logWriters',
    default: DEFAULTS.logWriters,
    help: "who writes the log: 'one' member for the cluster, the others handing it what they write, or 'each' node its own",
    parse: (v) => {
      if (v !== 'one' && v !== 'each')
        throw new ConfigError(`--log-writers must be 'one' or 'each', got ${JSON.stringify(v)}`)
      return v
    },
  },
  {
    flag: '--max-clock-skew-ms',
    env: 'MAX_CLOCK_SKEW_MS',
    key: 'maxClockSkewMs',
    default: String(DEFAULTS.maxClockSkewMs),
    help: "how far a member's clock may be from the cluster's before it is reported",
    parse: ms('--max-clock-skew-ms'),
  },
  {
    flag: '--actions-per-minute',
    env: 'ACTIONS_PER_MINUTE',
    key: 'actionsPerMinute',
    default: String(DEFAULTS.actionsPerMinute),
    help: 'requests and dismissals one user may make per minute on one node',
    parse: (v) => positiveCount('--actions-per-minute', v),
  },
  {
    flag: '--action-burst',
    env: 'ACTION_BURST',
    key: 'actionBurst',
    default: String(DEFAULTS.actionBurst),
    help: 'how many of those may come at once',
    parse: (v) => positiveCount('--action-burst', v),
  },
  {
    flag: '--generator',
    env: 'GENERATOR',
    key: 'generator',
    default: DEFAULTS.generator,
    help: "the job: 'pdf', 'failing' (fails half-way, for demos), or a module's path",
    parse: (v) => {
      if (!v.trim())
        throw new ConfigError(`--generator must be 'pdf', 'failing' or the path of a job module`)
      return v
    },
  },
  {
    flag: '--log-format',
    env: 'LOG_FORMAT',
    key: 'logFormat',
    default: 'text',
    help: "log lines as 'text', or 'json' (one object per line, for log shippers)",
    parse: (v) => {
      if (v !== 'text' && v !== 'json')
        throw new ConfigError(`--log-format must be 'text' or 'json', got ${JSON.stringify(v)}`)
      return v
    },
  },
  {
    flag: '--metrics-port',
    env: 'METRICS_PORT',
    key: 'metricsPort',
    default: 'none',
    help: 'serve /metrics on this port only (none: at /metrics on --port)',
    parse: (v) => portNumber('--metrics-port', v),
  },
  {
    flag: '--metrics-host',
    env: 'METRICS_HOST',
    key: 'metricsHost',
    default: '--host',
    help: 'the address the metrics port binds',
    parse: (v) => {
      if (!/^[A-Za-z0-9.:_-]+$/.test(v))
        throw new ConfigError(`--metrics-host must be an address to bind, got ${JSON.stringify(v)}`)
      return v
    },
  },
  {
    flag: '--attempts',
    env: 'ATTEMPTS',
    key: 'attempts',
    default: String(DEFAULTS.attempts),
    help: 'attempts a download may take when its job throws (1: no retry)',
    parse: (v) => positiveCount('--attempts', v),
  },
  {
    flag: '--retry-ms',
    env: 'RETRY_MS',
    key: 'retryMs',
    default: String(DEFAULTS.retryMs),
    help: 'first wait before a retry; doubles with each, with jitter',
    parse: ms('--retry-ms'),
  },
]
