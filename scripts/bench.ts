/**
 * `npm run bench -- [scenario…] [--quick] [--json FILE] [--users N] [--connections N]`
 *
 * Measures a real three-node cluster (separate processes on loopback) through the WebSocket
 * protocol, the way browsers use it. Every figure comes from the run. Scenarios: throughput,
 * relay, failover, convergence, connections, storage (all by default).
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { eventually } from '../test/helpers/cluster.ts'
import { Client, sessionCookie } from '../test/helpers/client.ts'
import {
  processCluster,
  statusOf,
  waitForCluster,
  type ProcessCluster,
} from '../test/helpers/processes.ts'

const SCENARIOS = [
  'throughput',
  'relay',
  'failover',
  'convergence',
  'connections',
  'storage',
] as const
type Scenario = (typeof SCENARIOS)[number]
type Row = { scenario: Scenario; figure: string; value: number; unit: string }

function parseArgs(argv: string[]) {
  const o = { quick: false, json: '', users: 0, connections: 0, scenarios: [] as Scenario[] }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const value = () => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${a} needs a value`)
      return v
    }
    if (a === '--quick') o.quick = true
    else if (a === '--json') o.json = value()
    else if (a === '--users') o.users = Number(value())
    else if (a === '--connections') o.connections = Number(value())
    else if ((SCENARIOS as readonly string[]).includes(a)) o.scenarios.push(a as Scenario)
    else if (a === '--help' || a === '-h') {
      console.log(
        `Usage: npm run bench -- [${SCENARIOS.join('|')} …] [--quick] [--json FILE] [--users N] [--connections N]`,
      )
      process.exit(0)
    } else throw new Error(`unknown argument ${JSON.stringify(a)}; see --help`)
  }
  if (o.scenarios.length === 0) o.scenarios = [...SCENARIOS]
  return o
}

const args = parseArgs(process.argv.slice(2))
const size = {
  users: args.users || (args.quick ? 60 : 300),
  relayUsers: args.quick ? 6 : 30,
  failoverRounds: args.quick ? 1 : 3,
  failoverUsers: args.quick ? 18 : 36,
  convergence: args.quick ? 20 : 100,
  connections: args.connections || (args.quick ? 1000 : 5000),
  storage: args.quick ? 20 : 100,
}
const rows: Row[] = []
const add = (scenario: Scenario, figure: string, value: number, unit: string) =>
  rows.push({ scenario, figure, value: Math.round(value * 100) / 100, unit })

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!
}

async function withCluster<T>(
  flags: string[],
  body: (c: ProcessCluster) => Promise<T>,
): Promise<T> {
  const c = await processCluster(3, flags)
  try {
    await waitForCluster(c.nodes)
    return await body(c)
  } finally {
    await c.teardown()
  }
}

async function users(
  c: ProcessCluster,
  n: number,
): Promise<{ cookie: string; client: Client; node: number }[]> {
  const out = []
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, async (_, k) => {
        const node = (i + k) % 3
        const cookie = await sessionCookie(c.nodes[node]!.url)
        const client = await Client.connect(c.nodes[node]!.url, cookie)
        await client.next((m) => m.type === 'download')
        return { cookie, client, node }
      }),
    )
    out.push(...batch)
  }
  return out
}

async function throughput(): Promise<void> {
  await withCluster(['--work-ms', '500'], async (c) => {
    const us = await users(c, size.users)
    const started = Date.now()
    const sent = us.map((u) => {
      u.client.send({ type: 'request' })
      return Date.now()
    })
    const done = await Promise.all(
      us.map((u) =>
        u.client.seen((d) => d?.state === 'ready', 120_000, 'ready').then(() => Date.now()),
      ),
    )
    const seconds = (Math.max(...done) - started) / 1000
    const latencies = done.map((t, i) => t - sent[i]!)
    add(
      'throughput',
      `completions per second (${size.users} users, 0.5 s of work each)`,
      size.users / seconds,
      '/s',
    )
    add('throughput', 'request to ready, median', pct(latencies, 50), 'ms')
    add('throughput', 'request to ready, p99', pct(latencies, 99), 'ms')
    for (const u of us) u.client.close()
  })
}

async function relay(): Promise<void> {
  await withCluster(['--work-ms', '3000'], async (c) => {
    const latencies: number[] = []
    const us = await users(c, size.relayUsers * 3)
    for (const u of us) u.client.send({ type: 'request' })
    await Promise.all(us.map((u) => u.client.seen((d) => d?.state === 'ready', 60_000, 'ready')))
    for (const u of us) {
      const seen = new Set<number>()
      u.client.messages.forEach((m, i) => {
        const d = m.type === 'download' ? m.download : null
        if (!d || d.state !== 'processing' || !d.progressAt || seen.has(d.progress)) return
        if (d.ownerName === c.nodes[u.node]!.name) return // only ticks that crossed nodes
        seen.add(d.progress)
        latencies.push(u.client.times[i]! - d.progressAt)
      })
      u.client.close()
    }
    add(
      'relay',
      `worker node to client on another node, median (${latencies.length} ticks)`,
      pct(latencies, 50),
      'ms',
    )
    add('relay', 'p99', pct(latencies, 99), 'ms')
    add('relay', 'max', Math.max(...latencies), 'ms')
  })
}

async function failover(): Promise<void> {
  const detection: number[] = []
  const resume: number[] = []
  let lost = 0
  let duplicated = 0
  let resumed = 0
  for (let round = 0; round < size.failoverRounds; round++) {
    await withCluster(['--work-ms', '6000'], async (c) => {
      const us = await users(c, size.failoverUsers)
      for (const u of us) u.client.send({ type: 'request' })
      const first = await Promise.all(
        us.map((u) =>
          u.client.seen((d) => d?.state === 'processing' && d.progress >= 20, 30_000, 'mid-way'),
        ),
      )
      const owners = new Map<string, number>()
      for (const d of first) owners.set(d!.ownerName, (owners.get(d!.ownerName) ?? 0) + 1)
      const victimName = [...owners].sort((a, b) => b[1] - a[1])[0]![0]
      const victim = c.nodes.findIndex((n) => n.name === victimName)
      const survivor = c.nodes.find((_, i) => i !== victim)!
      const killedAt = Date.now()
      c.signal(victim, 'SIGKILL')
      const watch = (async () => {
        await eventually(
          async () => (await statusOf(survivor.url, victimName)) === 'dead',
          'dead verdict',
          10_000,
        )
        detection.push(Date.now() - killedAt)
      })()
      // Clients on the victim reconnect to a survivor, as the page does.
      for (const u of us) {
        if (u.node !== victim) continue
        u.client.close()
        u.node = (victim + 1) % 3
        u.client = await Client.connect(c.nodes[u.node]!.url, u.cookie)
      }
      await watch
      await Promise.all(
        us.map(async (u, i) => {
          const ready = await u.client
            .seen((d) => d?.state === 'ready', 60_000, 'ready')
            .catch(() => null)
          if (!ready) return void lost++
          if (ready.id !== first[i]!.id) duplicated++
          if (first[i]!.ownerName !== victimName) return
          resumed++
          const at = u.client.messages.findIndex(
            (m, k) =>
              u.client.times[k]! >= killedAt &&
              m.type === 'download' &&
              (m.download?.epoch ?? 0) > first[i]!.epoch,
          )
          if (at >= 0) resume.push(u.client.times[at]! - killedAt)
        }),
      )
      for (const u of us) u.client.close()
    })
  }
  add(
    'failover',
    `SIGKILL to dead verdict, median (${detection.length} kills)`,
    pct(detection, 50),
    'ms',
  )
  add('failover', 'SIGKILL to dead verdict, max', Math.max(...detection), 'ms')
  add(
    'failover',
    `SIGKILL to first successor message, median (${resume.length} resumed)`,
    pct(resume, 50),
    'ms',
  )
  add('failover', 'SIGKILL to first successor message, max', Math.max(...resume), 'ms')
  add(
    'failover',
    `downloads lost (of ${size.failoverUsers * size.failoverRounds}; ${resumed} resumed)`,
    lost,
    '',
  )
  add('failover', 'downloads duplicated', duplicated, '')
}

async function convergence(): Promise<void> {
  await withCluster(['--work-ms', '200'], async (c) => {
    const times: number[] = []
    for (let i = 0; i < size.convergence; i++) {
      const cookie = await sessionCookie(c.nodes[0]!.url)
      const [a, b, d] = await Promise.all(c.nodes.map((n) => Client.connect(n.url, cookie)))
      await Promise.all([a, b, d].map((x) => x!.next((m) => m.type === 'download')))
      const sent = Date.now()
      a!.send({ type: 'request' })
      const seenAt = await Promise.all(
        [b, d].map((x) =>
          x!
            .wait((m) => m.type === 'download' && m.download !== null, 10_000)
            .then(() => Date.now()),
        ),
      )
      times.push(Math.max(...seenAt) - sent)
      for (const x of [a, b, d]) x!.close()
    }
    add(
      'convergence',
      `request on n1 until visible on all nodes, median (${times.length})`,
      pct(times, 50),
      'ms',
    )
    add('convergence', 'p99', pct(times, 99), 'ms')
  })
}

function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN)
}

/** The node process under `npm run node` (npm, then sh, then node). */
function nodePid(groupLeader: number): number {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '-g', String(groupLeader)], {
    encoding: 'utf8',
  })
  const line = out.split('\n').find((l) => /^\s*\d+\s+node\b.*src\/main\.ts/.test(l))
  return Number(line?.trim().split(/\s+/)[0])
}

async function connections(): Promise<void> {
  await withCluster(['--work-ms', '1000'], async (c) => {
    const node = c.nodes[0]!
    const pid = nodePid(node.child!.pid!)
    const cookie = await sessionCookie(node.url)
    await new Promise((r) => setTimeout(r, 500))
    const before = rssKb(pid)
    const clients: Client[] = []
    for (let i = 0; i < size.connections; i += 200) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(200, size.connections - i) }, () =>
          Client.connect(node.url, cookie),
        ),
      )
      clients.push(...batch)
    }
    await Promise.all(clients.map((cl) => cl.next((m) => m.type === 'download')))
    await new Promise((r) => setTimeout(r, 1000))
    const after = rssKb(pid)
    const sent = Date.now()
    clients[0]!.send({ type: 'request' })
    await Promise.all(clients.map((cl) => cl.seen((d) => d !== null, 60_000, 'the update')))
    const pushMs = Date.now() - sent
    add(
      'connections',
      `memory per idle connection (${clients.length} sockets on one node)`,
      ((after - before) * 1024) / clients.length,
      'bytes',
    )
    add('connections', 'one update pushed to all of them', pushMs, 'ms')
    for (const cl of clients) cl.close()
  })
}

function duBytes(paths: string[]): number {
  const out = execFileSync('du', ['-sb', ...paths], { encoding: 'utf8' })
  return out
    .trim()
    .split('\n')
    .reduce((sum, l) => sum + Number(l.split(/\s+/)[0]), 0)
}

async function storage(): Promise<void> {
  await withCluster(['--work-ms', '200', '--retention-ms', '3000'], async (c) => {
    const dirs = c.nodes.slice(0, 3).map((n) => n.dataDir)
    const before = duBytes(dirs)
    const us = await users(c, size.storage)
    for (const u of us) u.client.send({ type: 'request' })
    await Promise.all(us.map((u) => u.client.seen((d) => d?.state === 'ready', 60_000, 'ready')))
    await new Promise((r) => setTimeout(r, 500))
    const filled = duBytes(dirs)
    await Promise.all(us.map((u) => u.client.seen((d) => d === null, 30_000, 'purged')))
    await new Promise((r) => setTimeout(r, 2000))
    const purged = duBytes(dirs)
    add(
      'storage',
      `bytes on disk per completed download (3 nodes, ${size.storage} downloads)`,
      (filled - before) / size.storage,
      'bytes',
    )
    add(
      'storage',
      'per download still on disk after the TTL purge',
      (purged - before) / size.storage,
      'bytes',
    )
    for (const u of us) u.client.close()
  })
}

const RUN: Record<Scenario, () => Promise<void>> = {
  throughput,
  relay,
  failover,
  convergence,
  connections,
  storage,
}

const started = Date.now()
for (const s of args.scenarios) {
  const t = Date.now()
  process.stderr.write(`running ${s}…\n`)
  try {
    await RUN[s]()
  } catch (err) {
    process.stderr.write(`${s} failed: ${(err as Error).message}\n`)
    add(s, 'FAILED', NaN, '')
  }
  process.stderr.write(`  ${s} took ${((Date.now() - t) / 1000).toFixed(1)} s\n`)
}

const width = Math.max(...rows.map((r) => r.figure.length))
console.log(
  `\npdf-cluster bench (${args.quick ? 'quick' : 'full'}), ${new Date().toISOString()}, ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
)
console.log(`${'scenario'.padEnd(12)} ${'figure'.padEnd(width)}  value`)
for (const r of rows)
  console.log(`${r.scenario.padEnd(12)} ${r.figure.padEnd(width)}  ${r.value} ${r.unit}`)
if (args.json)
  writeFileSync(
    args.json,
    JSON.stringify({ at: new Date().toISOString(), quick: args.quick, rows }, null, 2) + '\n',
  )
process.exit(rows.some((r) => r.figure === 'FAILED') ? 1 : 0)
