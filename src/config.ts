import { parseHostPorts, type HostPort } from './cluster/transport.ts'

/**
 * Every knob of a node in one place: flags, their environment variables, defaults with units in
 * the names, validation at start (one line naming the flag), and the --help text.
 */

export interface Config {
  port: number
  host: string
  name: string
  dataDir: string
  workMs: number
  retentionMs: number
  /** How long a running download's record lives without being renewed by its worker. */
  liveTtlMs: number
  secret: string
  /** True when no secret was given and the development one is in use. */
  devSecret: boolean
  generator: 'pdf' | 'failing'
  /** Percent of progress between two checkpoints written to the log. */
  checkpointStep: number
  purgeIntervalMs: number
  /** UDP port of this node's DHT node (0: any free port). */
  dhtPort: number
  /** DHT nodes to join through. */
  bootstrap: HostPort[]
  heartbeatMs: number
  suspectAfterMs: number
  suspicionMs: number
  /** Origins (a load balancer's, say) whose pages may open a WebSocket besides the members'. */
  allowOrigins: string[]
}

/** With no --dht-port, a node's DHT listens here above its HTTP port. */
export const DHT_PORT_OFFSET = 10_000
/** With no --bootstrap, nodes join through the DHTs of HTTP ports 4000-4009 on this machine. */
export const DEFAULT_BOOTSTRAP: HostPort[] = Array.from({ length: 10 }, (_, i) => ({
  host: '127.0.0.1',
  port: 4000 + i + DHT_PORT_OFFSET,
}))

export const DEV_SECRET = 'pdf-cluster-development-secret'

interface Flag {
  flag: string
  env: string
  help: string
  default: string
  parse: (v: string) => unknown
  key: keyof Config
}

export class ConfigError extends Error {}

function positiveMs(flag: string) {
  return (v: string) => {
    const n = Number(v)
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n <= 0) {
      throw new ConfigError(
        `${flag} must be a whole number of milliseconds above 0, got ${JSON.stringify(v)}`,
      )
    }
    return n
  }
}

function portNumber(flag: string) {
  return (v: string) => {
    const n = Number(v)
    if (!/^\d+$/.test(v) || n > 65535) {
      throw new ConfigError(`${flag} must be a port number 0-65535, got ${JSON.stringify(v)}`)
    }
    return n
  }
}

const FLAGS: Flag[] = [
  {
    flag: '--port',
    env: 'PORT',
    key: 'port',
    default: '4000',
    help: 'HTTP port (0 picks a free one)',
    parse: portNumber('--port'),
  },
  {
    flag: '--host',
    env: 'HOST',
    key: 'host',
    default: '127.0.0.1',
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
    default: '6000',
    help: 'how long the default generator works',
    parse: positiveMs('--work-ms'),
  },
  {
    flag: '--retention-ms',
    env: 'RETENTION_MS',
    key: 'retentionMs',
    default: '600000',
    help: 'how long a finished download stays available',
    parse: positiveMs('--retention-ms'),
  },
  {
    flag: '--live-ttl-ms',
    env: 'LIVE_TTL_MS',
    key: 'liveTtlMs',
    default: '120000',
    help: 'how long a running download survives without its worker renewing it',
    parse: positiveMs('--live-ttl-ms'),
  },
  {
    flag: '--secret',
    env: 'CLUSTER_SECRET',
    key: 'secret',
    default: '(development secret)',
    help: 'cluster secret: admits peers, names the swarm topic, signs cookies',
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
    parse: portNumber('--dht-port'),
  },
  {
    flag: '--bootstrap',
    env: 'BOOTSTRAP',
    key: 'bootstrap',
    default: '127.0.0.1:14000-14009',
    help: 'DHT nodes to join through, host:port,…',
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
    default: '100',
    help: 'how often a node heartbeats every peer',
    parse: positiveMs('--heartbeat-ms'),
  },
  {
    flag: '--suspect-after-ms',
    env: 'SUSPECT_AFTER_MS',
    key: 'suspectAfterMs',
    default: '500',
    help: 'silence after which a member is suspected',
    parse: positiveMs('--suspect-after-ms'),
  },
  {
    flag: '--suspicion-ms',
    env: 'SUSPICION_MS',
    key: 'suspicionMs',
    default: '300',
    help: 'how long a suspicion stands before the member is declared dead',
    parse: positiveMs('--suspicion-ms'),
  },
  {
    flag: '--allow-origin',
    env: 'ALLOW_ORIGIN',
    key: 'allowOrigins',
    default: '(none)',
    help: "extra origins whose pages may open a socket, e.g. a load balancer's, comma-separated",
    parse: (v) =>
      v.split(',').map((s) => {
        try {
          const u = new URL(s.trim())
          if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error()
          return u.origin
        } catch {
          throw new ConfigError(
            `--allow-origin must be http(s) origins, comma-separated, got ${JSON.stringify(s)}`,
          )
        }
      }),
  },
  {
    flag: '--generator',
    env: 'GENERATOR',
    key: 'generator',
    default: 'pdf',
    help: "worker adapter: 'pdf', or 'failing' (fails half-way, for demos)",
    parse: (v) => {
      if (v !== 'pdf' && v !== 'failing')
        throw new ConfigError(`--generator must be 'pdf' or 'failing', got ${JSON.stringify(v)}`)
      return v
    },
  },
]

export function helpText(): string {
  const rows = FLAGS.map(
    (f) =>
      `  ${`${f.flag} <value>`.padEnd(24)} ${f.env.padEnd(15)} ${f.help} (default ${f.default})`,
  )
  return [
    'Usage: npm run node -- [flags]',
    '',
    'Starts one node. Every flag can also be given as the environment variable beside it;',
    'a flag wins over its variable.',
    '',
    ...rows,
    `  ${'--help'.padEnd(24)} ${''.padEnd(15)} print this and exit`,
  ].join('\n')
}

/** Parses flags over environment variables over defaults. Throws ConfigError with one line. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = {}): Config | 'help' {
  const given = new Map<string, string>()
  for (const f of FLAGS) {
    const v = env[f.env]
    if (v !== undefined && v !== '') given.set(f.flag, v)
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--help' || arg === '-h') return 'help'
    const eq = arg.indexOf('=')
    const name = eq > 0 ? arg.slice(0, eq) : arg
    if (!FLAGS.some((f) => f.flag === name)) {
      throw new ConfigError(`unknown flag ${JSON.stringify(arg)}; see --help`)
    }
    let value: string | undefined
    if (eq > 0) value = arg.slice(eq + 1)
    else {
      value = argv[++i]
      if (value === undefined) throw new ConfigError(`${name} needs a value`)
    }
    given.set(name, value)
  }

  const out: Partial<Config> = {}
  for (const f of FLAGS) {
    const v = given.get(f.flag)
    if (v !== undefined) (out as Record<string, unknown>)[f.key] = f.parse(v)
  }
  const port = out.port ?? 4000
  const name = out.name ?? `node-${port}`
  const dhtPort = out.dhtPort ?? (port === 0 ? 0 : port + DHT_PORT_OFFSET)
  if (dhtPort > 65535)
    throw new ConfigError(
      `--dht-port must be given when --port is above ${65535 - DHT_PORT_OFFSET}`,
    )
  const heartbeatMs = out.heartbeatMs ?? 100
  const suspectAfterMs = out.suspectAfterMs ?? 500
  if (suspectAfterMs < 3 * heartbeatMs) {
    throw new ConfigError(
      `--suspect-after-ms (${suspectAfterMs}) must be at least 3 heartbeats (--heartbeat-ms ${heartbeatMs})`,
    )
  }
  return {
    port,
    host: out.host ?? '127.0.0.1',
    name,
    dataDir: out.dataDir ?? `.data/${name}`,
    workMs: out.workMs ?? 6000,
    retentionMs: out.retentionMs ?? 600_000,
    liveTtlMs: out.liveTtlMs ?? 120_000,
    secret: out.secret ?? DEV_SECRET,
    devSecret: out.secret === undefined,
    generator: out.generator ?? 'pdf',
    checkpointStep: 10,
    purgeIntervalMs: 1000,
    dhtPort,
    bootstrap: out.bootstrap ?? DEFAULT_BOOTSTRAP,
    heartbeatMs,
    suspectAfterMs,
    suspicionMs: out.suspicionMs ?? 300,
    allowOrigins: out.allowOrigins ?? [],
  }
}
