/** Real node processes started with `npm run node`, for the tests that kill them. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { eventually } from './eventually.ts'
import { freeTcpPort, freeUdpPorts } from './ports.ts'
import { tempDir } from './temp-dir.ts'

export interface NodeProcess {
  name: string
  url: string
  port: number
  dataDir: string
  child: ChildProcess | null
  lines: string[]
  /** How its last process ended ('code 1', 'signal SIGKILL', with the time); null: running. */
  exited?: string | null
}

export interface ProcessCluster {
  nodes: NodeProcess[]
  start(i: number): Promise<void>
  /** SIGKILL (or another signal) to the node's whole process group: npm, and node under it. */
  signal(i: number, signal: NodeJS.Signals): void
  teardown(): Promise<void>
}

/**
 * `count` nodes started, plus `spare` more that share the bootstrap list but are started only
 * when a test asks (a newcomer joining later).
 */
export async function processCluster(
  count: number,
  flags: string[] = [],
  spare = 0,
  /** A command to run node i under, e.g. `['faketime', '-f', '+1h']`; none by default. */
  wrap: (i: number) => string[] = () => [],
  /** The address node i binds (a test host's, hosts.ts); loopback by default. */
  hostOf: (i: number) => string = () => '127.0.0.1',
  /** More environment for every node (the bench's NODE_OPTIONS). */
  env: Record<string, string> = {},
): Promise<ProcessCluster> {
  const total = count + spare
  const dhtPorts = await freeUdpPorts(total)
  const dirs = await Promise.all(dhtPorts.map(() => tempDir('pdf-cluster-proc-')))
  const ports: number[] = []
  for (let i = 0; i < total; i++) ports.push(await freeTcpPort())
  const bootstrap = dhtPorts.map((p, i) => `${hostOf(i)}:${p}`).join(',')
  const nodes: NodeProcess[] = ports.map((port, i) => ({
    name: `n${i + 1}`,
    url: `http://${hostOf(i)}:${port}`,
    port,
    dataDir: dirs[i]!.path,
    child: null,
    lines: [],
  }))

  async function start(i: number): Promise<void> {
    const n = nodes[i]!
    const [command, ...prefix] = [...wrap(i), 'npm']
    const child = spawn(
      command!,
      [
        ...prefix,
        'run',
        '--silent',
        'node',
        '--',
        '--name',
        n.name,
        '--host',
        hostOf(i),
        '--port',
        String(n.port),
        '--dht-port',
        String(dhtPorts[i]),
        '--bootstrap',
        bootstrap,
        '--data',
        n.dataDir,
        ...flags,
      ],
      {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        // This launcher's own secret, so that clusters of two runs side by side never meet
        // (test/helpers/node.ts says how they could).
        env: { ...process.env, CLUSTER_SECRET: `process-test-secret-${process.pid}`, ...env },
      },
    )
    n.child = child
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        n.lines.push(line)
        if (process.env.DEBUG) console.log(`${n.name} | ${line}`)
      })
    }
    n.exited = null
    child.on('exit', (code, signal) => {
      if (n.child !== child) return
      n.child = null
      n.exited = `${signal ? `signal ${signal}` : `code ${code}`} at ${new Date().toISOString()}`
    })
    const started = Date.now()
    // A restarted node's earlier lines say "started" too: only this run's count.
    const from = n.lines.length
    // The readable line says " started ", a JSON one (--log-format json) "event":"started".
    while (!n.lines.slice(from).some((l) => / started |"event":"started"/.test(l))) {
      if (!n.child) throw new Error(`${n.name} exited at start:\n${n.lines.join('\n')}`)
      if (Date.now() - started > 30_000)
        throw new Error(`${n.name} did not start:\n${n.lines.join('\n')}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  const cluster: ProcessCluster = {
    nodes,
    start,
    signal(i, signal) {
      const child = nodes[i]!.child
      if (child?.pid) process.kill(-child.pid, signal)
    },
    async teardown() {
      for (const n of nodes) if (n.child?.pid) process.kill(-n.child.pid, 'SIGCONT')
      for (const n of nodes) if (n.child?.pid) process.kill(-n.child.pid, 'SIGTERM')
      const deadline = Date.now() + 5000
      while (nodes.some((n) => n.child) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50))
      for (const n of nodes) if (n.child?.pid) process.kill(-n.child.pid, 'SIGKILL')
      await Promise.all(dirs.map((d) => d.remove()))
    },
  }
  // A node that cannot start leaves none behind: the test fails instead of hanging.
  await Promise.all(nodes.slice(0, count).map((_, i) => start(i))).catch(async (err) => {
    await cluster.teardown()
    throw err
  })
  return cluster
}

/** Whether a node would take a new download now (its /healthz: ok, not joining); false if it does not answer. */
export async function accepting(url: string): Promise<boolean> {
  try {
    const res = await fetch(url + '/healthz', { signal: AbortSignal.timeout(1000) })
    const body = (await res.json()) as { ok: boolean; joining?: boolean }
    return body.ok && body.joining === false
  } catch {
    return false
  }
}

export interface ClusterView {
  self: { name: string }
  members: { id: string; name: string; url: string; status: string }[]
}

export async function clusterView(url: string): Promise<ClusterView | null> {
  try {
    const res = await fetch(url + '/cluster', { signal: AbortSignal.timeout(1000) })
    return (await res.json()) as ClusterView
  } catch {
    return null
  }
}

export async function statusOf(url: string, name: string): Promise<string | undefined> {
  return (await clusterView(url))?.members.find((m) => m.name === name)?.status
}

/** Waits until these nodes see each other alive and share one log that each can write. */
export async function waitForCluster(nodes: NodeProcess[], timeoutMs = 30_000): Promise<void> {
  await eventually(
    async () => {
      for (const n of nodes)
        for (const m of nodes) if ((await statusOf(n.url, m.name)) !== 'alive') return false
      const health = await Promise.all(
        nodes.map(async (n) => {
          const res = await fetch(n.url + '/healthz', { signal: AbortSignal.timeout(1000) })
          return (await res.json()) as { log: { writable: boolean; key: string } }
        }),
      )
      return health.every((h) => h.log.writable) && new Set(health.map((h) => h.log.key)).size === 1
    },
    `${nodes.map((n) => n.name).join(', ')} form one cluster on one log`,
    timeoutMs,
  )
}

let tickMs: number | undefined

/**
 * CPU time (user and system, every thread) used so far by the processes of one process group,
 * in ms (Linux). A process that has exited is no longer counted.
 */
export function groupCpuMs(pgid: number): number {
  tickMs ??= 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }))
  const tick = tickMs
  let total = 0
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let stat: string
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    } catch {
      continue // exited meanwhile
    }
    // Fields after the command name (which may hold spaces): state is 3, pgrp 5, utime 14.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (Number(f[2]) === pgid) total += (Number(f[11]) + Number(f[12])) * tick
  }
  return total
}

/** Resident memory of a process, in KB (Linux). */
export function rssKbOf(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN)
}

/** Resident memory of a running node, the node process under `npm run node` (npm, sh, node). */
export function nodeRssKb(n: NodeProcess): number {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '-g', String(n.child!.pid!)], {
    encoding: 'utf8',
  })
  const line = out.split('\n').find((l) => /^\s*\d+\s+node\b.*src\/main\.ts/.test(l))
  return rssKbOf(Number(line?.trim().split(/\s+/)[0]))
}
