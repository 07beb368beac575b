/**
 * The two systems the bench measures, behind one interface: this cluster (three `npm run node`
 * processes) and the baseline (BullMQ on a local redis-server, three baseline-node.ts
 * processes, each a worker plus a QueueEvents-to-WebSocket relay).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { QueueEvents } from 'bullmq'
import type { Client } from './lib/client.ts'
import { freeTcpPort } from './lib/ports.ts'
import { dirBytes } from '../src/disk-space.ts'
import { collectGarbage, inspectorUrl } from './lib/inspector.ts'
import {
  groupCpuMs,
  nodeRssKb,
  processCluster,
  rssKbOf,
  statusOf,
  waitForCluster,
} from './lib/processes.ts'

export type Scenario =
  'throughput' | 'relay' | 'failover' | 'convergence' | 'connections' | 'storage'
/** Every scenario, in the order a run takes them. */
export const ALL: Scenario[] = [
  'throughput',
  'relay',
  'failover',
  'convergence',
  'connections',
  'storage',
]

export interface Running {
  nodes: { name: string; url: string }[]
  signal(i: number, signal: NodeJS.Signals): void
  /** When the system, seen from `observer`, noticed node `victim` was gone; null on timeout. */
  deadAfter(
    victim: number,
    observer: string,
    since: number,
    timeoutMs: number,
  ): Promise<number | null>
  /** Resident memory of node i once it has collected its garbage (started with `inspect`). */
  rssAfterGcKb(i: number): Promise<number>
  storageBytes(): Promise<number>
  /** CPU time its processes have used so far (every node; the baseline's Redis too), in ms. */
  cpuMs(): number
  storageWhat: string
  /** Operations in the replicated log so far (the cluster only: BullMQ has no such log). */
  logOps?(): Promise<number>
  /** Resolves once the finished downloads of these clients have been purged. */
  afterRetention(clients: Client[], retentionMs: number): Promise<void>
  teardown(): Promise<void>
}

export interface System {
  label: string
  scenarios: Scenario[]
  /** `inspect`: each process opens its inspector, so that `rssAfterGcKb` can ask it to collect. */
  start(o: { workMs: number; retentionMs?: number; inspect?: boolean }): Promise<Running>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const INSPECT = '--inspect=127.0.0.1:0'
/** npm's node opens an inspector too: `inspectorUrl` takes the last one printed, the node's. */
const INSPECT_ENV = { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${INSPECT}`.trim() }

export const clusterSystem: System = {
  label: 'cluster',
  scenarios: ALL,
  async start({ workMs, retentionMs, inspect }) {
    const flags = [
      '--work-ms',
      String(workMs),
      ...(retentionMs ? ['--retention-ms', String(retentionMs)] : []),
      // The steady load's users act as fast as their downloads allow, past the per-user
      // limit that guards a real cluster against a flooding page (the baseline has none).
      '--actions-per-minute',
      '6000',
    ]
    const c = await processCluster(3, flags, 0, undefined, undefined, inspect ? INSPECT_ENV : {})
    try {
      await waitForCluster(c.nodes)
    } catch (err) {
      await c.teardown()
      throw err
    }
    return {
      nodes: c.nodes,
      signal: (i, s) => c.signal(i, s),
      async deadAfter(victim, observer, since, timeoutMs) {
        const url = c.nodes.find((n) => n.name === observer)!.url
        while (Date.now() - since < timeoutMs) {
          if ((await statusOf(url, c.nodes[victim]!.name)) === 'dead') return Date.now()
          await sleep(20)
        }
        return null
      },
      async rssAfterGcKb(i) {
        await collectGarbage(inspectorUrl(c.nodes[i]!.lines))
        await sleep(300)
        return nodeRssKb(c.nodes[i]!)
      },
      cpuMs: () =>
        c.nodes.reduce((sum, n) => sum + (n.child?.pid ? groupCpuMs(n.child.pid) : 0), 0),
      storageWhat: 'on disk, 3 nodes',
      // The most any node has read: a node whose view autobase has just reordered reads the
      // tail again, and says less meanwhile (seen: 100 of 600 for a second after a burst).
      async logOps() {
        const lengths = await Promise.all(
          c.nodes.map(async (n) => {
            const res = await fetch(n.url + '/healthz')
            return ((await res.json()) as { log: { length: number } }).log.length
          }),
        )
        return Math.max(...lengths)
      },
      async storageBytes() {
        // Not `du`: it fails when a file is unlinked while it walks (a purge).
        const sizes = await Promise.all(c.nodes.map((n) => dirBytes(n.dataDir, true)))
        return sizes.reduce((a, b) => a + b, 0)
      },
      async afterRetention(clients) {
        await Promise.all(clients.map((cl) => cl.seen((d) => d === null, 30_000, 'purged')))
        await sleep(2000)
      },
      teardown: () => c.teardown(),
    }
  },
}

function redisAvailable(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

async function startProcess(
  command: string,
  args: string[],
  ready: RegExp,
  what: string,
): Promise<{ child: ChildProcess; lines: string[] }> {
  const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  for (const s of [child.stdout!, child.stderr!])
    createInterface({ input: s }).on('line', (l) => lines.push(l))
  const started = Date.now()
  while (!lines.some((l) => ready.test(l))) {
    if (child.exitCode !== null) throw new Error(`${what} exited at start:\n${lines.join('\n')}`)
    if (Date.now() - started > 30_000)
      throw new Error(`${what} did not start:\n${lines.join('\n')}`)
    await sleep(50)
  }
  return { child, lines }
}

function kill(child: ChildProcess | null, signal: NodeJS.Signals): void {
  try {
    if (child?.pid) process.kill(-child.pid, signal)
  } catch {
    // already gone
  }
}

function bullmq(
  label: string,
  lock: { lockMs: number; stalledMs: number } | null,
  scenarios: Scenario[],
): System {
  return {
    label,
    scenarios,
    async start({ workMs, retentionMs, inspect }) {
      const redisPort = await freeTcpPort()
      const redis = await startProcess(
        'redis-server',
        ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        /Ready to accept connections/,
        'redis-server',
      )
      const nodes: { name: string; url: string; child: ChildProcess | null; lines: string[] }[] = []
      try {
        for (let i = 0; i < 3; i++) {
          const port = await freeTcpPort()
          const name = `b${i + 1}`
          const args = [
            ...(inspect ? [INSPECT] : []),
            '--import',
            'tsx',
            'scripts/baseline-node.ts',
            '--name',
            name,
            '--port',
            String(port),
            '--redis-port',
            String(redisPort),
          ]
          args.push(
            '--work-ms',
            String(workMs),
            '--retention-s',
            String(Math.max(1, Math.round((retentionMs ?? 600_000) / 1000))),
          )
          if (lock)
            args.push('--lock-ms', String(lock.lockMs), '--stalled-ms', String(lock.stalledMs))
          const { child, lines } = await startProcess(process.execPath, args, / started /, name)
          nodes.push({ name, url: `http://127.0.0.1:${port}`, child, lines })
        }
      } catch (err) {
        for (const n of nodes) kill(n.child, 'SIGKILL')
        kill(redis.child, 'SIGKILL')
        throw err
      }
      const connection = { host: '127.0.0.1', port: redisPort }
      return {
        nodes,
        signal: (i, s) => kill(nodes[i]!.child, s),
        // BullMQ has no membership: a dead worker is noticed when its jobs are found stalled.
        deadAfter(_victim, _observer, since, timeoutMs) {
          return new Promise((resolve) => {
            const events = new QueueEvents('pdf', { connection })
            const done = (at: number | null) => {
              clearTimeout(timer)
              void events.close()
              resolve(at)
            }
            const timer = setTimeout(() => done(null), Math.max(0, since + timeoutMs - Date.now()))
            events.on('stalled', () => done(Date.now()))
          })
        },
        async rssAfterGcKb(i) {
          await collectGarbage(inspectorUrl(nodes[i]!.lines))
          await sleep(300)
          return rssKbOf(nodes[i]!.child!.pid!)
        },
        cpuMs: () =>
          [redis.child, ...nodes.map((n) => n.child)].reduce(
            (sum, child) => sum + (child?.pid ? groupCpuMs(child.pid) : 0),
            0,
          ),
        storageWhat: 'Redis used_memory',
        async storageBytes() {
          const info = execFileSync('redis-cli', ['-p', String(redisPort), 'info', 'memory'], {
            encoding: 'utf8',
          })
          return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN)
        },
        async afterRetention(_clients, ms) {
          // BullMQ removes old completed jobs when later jobs complete: finish one more.
          await sleep(ms + 1000)
        },
        async teardown() {
          for (const n of nodes) kill(n.child, 'SIGTERM')
          await sleep(500)
          for (const n of nodes) kill(n.child, 'SIGKILL')
          kill(redis.child, 'SIGKILL')
        },
      }
    },
  }
}

/** The baseline systems, or why there are none. */
export async function baselineSystem(quick: boolean): Promise<System[] | string> {
  if (!redisAvailable())
    return 'redis-server not found: install it with apt-get install redis-server'
  const tuned = bullmq('bullmq (lock 1 s)', { lockMs: 1000, stalledMs: 1000 }, ALL)
  // BullMQ's defaults (30 s lock, 30 s stall check) take a minute per failover: full runs only.
  return quick ? [tuned] : [tuned, bullmq('bullmq (defaults)', null, ['failover'])]
}
