/**
 * `npm start` / `npm run cluster`: launches a local cluster of nodes (three by default) with a
 * generated secret, prefixes each node's log lines with its name, and makes the failover demo
 * a one-person show: press a node's number to kill it (SIGKILL), press it again to restart it.
 * Ctrl-C (or q) stops them all cleanly.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { loadMachineSecret, machineSecretPath } from '../src/machine-secret.ts'
import { parseConfig } from '../src/flags.ts'
import { ConfigError } from '../src/config.ts'
import { BUILT_IN_JOBS, LOAD_TIMEOUT_MS } from '../src/downloads/generator-module.ts'

const HELP = `Usage: npm start -- [options] [node flags]

  --count <n>        how many nodes (default 3, at most 9)
  --first-port <p>   HTTP port of n1; the others follow (default 4001)
  --data-root <dir>  where each node's data directory goes (default .data)
  --help             print this

Any other flag (--work-ms 3000, say) is passed to every node; --port, --name,
--data and --dht-port are the launcher's to set for each node.
Keys while running: 1-9 kill that node with SIGKILL, or restart it if it is down; q stops all.`

interface Options {
  count: number
  firstPort: number
  dataRoot: string
  passThrough: string[]
}

/** Node flags the launcher sets for each node: one value given to all would make them collide. */
const PER_NODE: Record<string, string> = {
  '--port': 'use --first-port (n1 listens there, the others on the ports after it)',
  '--name': 'the launcher names its nodes n1, n2…',
  '--data': 'use --data-root (each node keeps its data in <root>/<name>)',
  '--dht-port': "each node's is its HTTP port + 10,000",
}

function parse(argv: string[]): Options {
  const o: Options = { count: 3, firstPort: 4001, dataRoot: '.data', passThrough: [] }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    const value = () => {
      const v = argv[++i]
      if (v === undefined) fail(`${arg} needs a value`)
      return v as string
    }
    if (arg === '--help' || arg === '-h') {
      console.log(HELP)
      process.exit(0)
    } else if (arg === '--count') {
      o.count = Number(value())
      if (!Number.isInteger(o.count) || o.count < 1 || o.count > 9) fail('--count must be 1 to 9')
    } else if (arg === '--first-port') {
      o.firstPort = Number(value())
    } else if (arg === '--data-root') {
      o.dataRoot = value()
    } else {
      const perNode = PER_NODE[arg.split('=')[0]!]
      if (perNode) fail(`${arg.split('=')[0]} is set for each node by the launcher: ${perNode}`)
      o.passThrough.push(arg)
    }
  }
  // One metrics port given to every node: the second would find it taken.
  if (o.count > 1 && o.passThrough.some((f) => f.split('=')[0] === '--metrics-port'))
    fail(
      '--metrics-port would be the same port for every node: leave it out (each node serves /metrics on its own port), or start the nodes by hand (npm run node) to give each its own',
    )
  // Checked once --count is known, wherever it was given: each node's DHT port is 10,000 up.
  const last = 65_535 - 10_000 - (o.count - 1)
  if (!Number.isInteger(o.firstPort) || o.firstPort < 1 || o.firstPort > last)
    fail(`--first-port must be a port number from 1 to ${last} with ${o.count} nodes`)
  return o
}

function fail(message: string): never {
  console.error(`error: ${message}`)
  process.exit(2)
}

/**
 * The cluster secret: CLUSTER_SECRET if given, else this machine's (src/machine-secret.ts), so
 * a node started by hand with `npm run node` joins this cluster. A data root made by an earlier
 * launcher kept its own secret: that one becomes the machine's, so its nodes keep their cluster.
 */
async function clusterSecret(dataRoot: string): Promise<string> {
  if (process.env.CLUSTER_SECRET) return process.env.CLUSTER_SECRET
  const path = machineSecretPath()
  if (!existsSync(path)) {
    try {
      const legacy = readFileSync(join(dataRoot, 'cluster-secret'), 'utf8').trim()
      if (legacy.length >= 8) return await loadMachineSecret(path, () => legacy)
    } catch {
      // No earlier secret: a new one is made.
    }
  }
  return loadMachineSecret(path)
}

const COLORS = [36, 35, 33, 32, 34, 31, 96, 95, 93]
const color = (i: number, s: string) =>
  process.stdout.isTTY ? `\x1b[${COLORS[i % COLORS.length]}m${s}\x1b[0m` : s

const o = parse(process.argv.slice(2))
const secret = await clusterSecret(o.dataRoot)
const nodes = Array.from({ length: o.count }, (_, i) => {
  const port = o.firstPort + i
  return {
    name: `n${i + 1}`,
    port,
    dhtPort: port + 10_000,
    url: `http://127.0.0.1:${port}`,
    child: null as ChildProcess | null,
    /** Whether the node said it started, this run or an earlier one. */
    started: false,
  }
})
let stopping = false

/** A node's flags: its own, then the ones given to every node. */
function flagsOf(n: (typeof nodes)[number]): string[] {
  const own = ['--name', n.name, '--port', String(n.port), '--dht-port', String(n.dhtPort)]
  return [...own, '--data', join(o.dataRoot, n.name), ...o.passThrough]
}

const nodeEnv = { ...process.env, CLUSTER_SECRET: secret }
// A node flag mistyped, a bad value or a job module that does not load is refused here once,
// not by every node after the banner.
try {
  const config = parseConfig(flagsOf(nodes[0]!), nodeEnv)
  if (config !== 'help' && !BUILT_IN_JOBS.has(config.generator)) {
    const problem = await jobProblem(config.generator)
    if (problem) fail(problem)
  }
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  fail(err.message)
}

/** Why the job module at `path` cannot be one, asked of a process of its own (job-check.ts). */
function jobProblem(path: string): Promise<string | null> {
  const check = fileURLToPath(new URL('./lib/job-check.ts', import.meta.url))
  return new Promise((resolve) => {
    const child = fork(check, [path], {
      execArgv: ['--import', 'tsx'],
      env: nodeEnv,
      // What the module prints at import is its own: not shown, not mistaken for the answer.
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      timeout: LOAD_TIMEOUT_MS + 15_000,
    })
    let answered = false
    let stderr = ''
    child.stderr!.on('data', (b) => (stderr += String(b)))
    child.on('message', (m: { problem?: string | null }) => {
      answered = true
      resolve(m.problem ?? null)
    })
    child.on('exit', (code, signal) => {
      if (answered) return
      // Died before it could answer: the first line that names an error says most.
      const lines = stderr.split('\n').map((l) => l.trim())
      const why = lines.find((l) => /^\w*Error\b/.test(l)) ?? `exited (${signal ?? `code ${code}`})`
      resolve(`job module ${path} could not be checked: ${why}`)
    })
  })
}

const sameSecret = process.env.CLUSTER_SECRET ? 'CLUSTER_SECRET=… ' : ''
const quoted = (f: string) => (/[\s"'$]/.test(f) ? JSON.stringify(f) : f)

/**
 * The command that runs node `name` by hand: the same job and settings as the others (a node
 * running another job would make other files), its data beside theirs. For a node to add, and
 * for one of the launcher's own to start again when no terminal can press its key.
 */
function byHand(name: string, port: number): string {
  const flags = ['--port', String(port), '--name', name, '--data', join(o.dataRoot, name)]
  return `${sameSecret}npm run node -- ${[...flags, ...o.passThrough].map(quoted).join(' ')}`
}

function start(i: number): void {
  const n = nodes[i]!
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...flagsOf(n)], {
    env: nodeEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  n.child = child
  const prefix = color(i, n.name.padEnd(3))
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream! }).on('line', (line) => {
      if (/ started id=/.test(line)) n.started = true
      console.log(`${prefix} | ${line}`)
    })
  }
  child.on('exit', (code, signal) => {
    if (n.child === child) n.child = null
    if (stopping) {
      if (nodes.every((x) => !x.child)) process.exit(0)
      return
    }
    const how = `exited (${signal ?? `code ${code}`})`
    // Not one node came up (the data in use by another launcher, say): nothing to demo. On
    // stdout, after each node's own lines, so that a terminal shows them in order.
    if (nodes.every((x) => !x.child && !x.started)) {
      console.log(`${prefix} | ${how}`)
      console.log('None of the nodes could start; their errors are above.')
      process.exit(1)
    }
    const restart = process.stdin.isTTY
      ? `; press ${i + 1} to restart it`
      : `; to start it again: ${byHand(n.name, n.port)}`
    console.log(`${prefix} | ${how}${restart}`)
    if (nodes.some((x) => x.child)) return
    // With no terminal there is no key to press, and nothing would keep the launcher up: it
    // says so rather than vanish.
    if (process.stdin.isTTY)
      console.log(`Every node has exited: press 1-${nodes.length} to restart one, q to quit.`)
    else {
      console.log(
        'Every node has exited; the launcher stops (npm start again, or the commands above).',
      )
      process.exit(1)
    }
  })
}

function stopAll(): void {
  if (stopping) return
  stopping = true
  console.log('stopping all nodes…')
  const running = nodes.filter((n) => n.child)
  if (running.length === 0) process.exit(0)
  for (const n of running) n.child!.kill('SIGTERM')
  setTimeout(() => {
    for (const n of nodes) n.child?.kill('SIGKILL')
    process.exit(1)
  }, 3000).unref()
}

const secretFrom = process.env.CLUSTER_SECRET ? 'CLUSTER_SECRET' : machineSecretPath()
console.log(`Starting ${o.count} nodes (data in ${o.dataRoot}/, secret from ${secretFrom}):`)
for (const n of nodes) console.log(`  ${n.name}  ${n.url}`)
const first = nodes[0]!.url
// With --metrics-port each node serves its metrics on a port of its own: the flag says where.
const ownMetricsPort = o.passThrough.some((f) => f.startsWith('--metrics-port'))
console.log(
  `Cluster status: ${first}/status (on any node)` +
    (ownMetricsPort ? '' : `; Prometheus metrics: <node>/metrics, e.g. ${first}/metrics`),
)
console.log(`To add a node to this cluster: ${byHand(`n${o.count + 1}`, o.firstPort + o.count)}`)
if (process.stdin.isTTY) console.log('Keys: 1-9 kill/restart a node, q quits.\n')
nodes.forEach((_, i) => start(i))

process.on('SIGINT', stopAll)
process.on('SIGTERM', stopAll)
if (process.stdin.isTTY) {
  process.stdin.setRawMode(true)
  process.stdin.resume()
  process.stdin.on('data', (data) => {
    const key = data.toString()
    if (key === '\u0003' || key === 'q') return stopAll()
    const i = Number(key) - 1
    const n = nodes[i]
    if (!n || stopping) return
    if (n.child) {
      console.log(`${color(i, n.name.padEnd(3))} | killing with SIGKILL`)
      n.child.kill('SIGKILL')
    } else {
      console.log(`${color(i, n.name.padEnd(3))} | restarting`)
      start(i)
    }
  })
}
