/**
 * The bench's scenarios, each run against one system (the cluster, or a BullMQ baseline)
 * through the same WebSocket protocol, the way browsers use it. Each adds its figures.
 */
import { Client, sessionCookie } from './lib/client.ts'
import { eventually } from './lib/eventually.ts'
import { partitionRounds } from './bench-partition.ts'
import { throughputBursts } from './bench-throughput.ts'
import type { Sizes } from './bench-args.ts'
import { clusterSystem, type Running, type Scenario, type System } from './bench-systems.ts'

export type BenchUser = { cookie: string; client: Client; node: number }

export interface BenchContext {
  size: Sizes
  /** The system the scenarios run against now. */
  system(): System
  add(scenario: Scenario, figure: string, value: number, unit: string): void
}

export function scenarios(ctx: BenchContext): Record<Scenario, () => Promise<void>> {
  const { size, add } = ctx
  const pct = (xs: number[], p: number) => {
    if (xs.length === 0) return NaN
    const s = [...xs].sort((a, b) => a - b)
    return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!
  }
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

  async function withSystem<T>(
    o: { workMs: number; retentionMs?: number; inspect?: boolean },
    body: (c: Running) => Promise<T>,
  ): Promise<T> {
    const c = await ctx.system().start(o)
    try {
      return await body(c)
    } finally {
      await c.teardown()
    }
  }

  type User = BenchUser
  async function users(c: Pick<Running, 'nodes'>, n: number): Promise<User[]> {
    const out: User[] = []
    for (let i = 0; i < n; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(50, n - i) }, async (_, k) => {
          const node = (i + k) % c.nodes.length
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
    await withSystem({ workMs: 500 }, async (c) => {
      const us = await users(c, size.users)
      await throughputBursts({
        c,
        us,
        warmRounds: size.warmRounds,
        steadyUsers: Math.min(size.steadyUsers, us.length),
        steadySeconds: size.steadySeconds,
        add,
        pct,
      })
      for (const u of us) u.client.close()
    })
  }

  async function relay(): Promise<void> {
    await withSystem({ workMs: 3000 }, async (c) => {
      const latencies: number[] = []
      const us = await users(c, size.relayUsers * 3)
      for (const u of us) u.client.send({ type: 'request' })
      await Promise.all(us.map((u) => u.client.seen((d) => d?.state === 'ready', 60_000, 'ready')))
      for (const u of us) {
        const seen = new Set<number>()
        u.client.messages.forEach((m, i) => {
          const d = m.type === 'download' ? m.download : null
          if (!d || d.state !== 'processing' || !d.progressAt || seen.has(d.progress)) return
          if (d.ownerName === c.nodes[u.node]!.name) return // only ticks that crossed processes
          seen.add(d.progress)
          latencies.push(u.client.times[i]! - d.progressAt)
        })
        u.client.close()
      }
      add('relay', 'worker to a client on another node, median', pct(latencies, 50), 'ms')
      add('relay', 'worker to a client on another node, p99', pct(latencies, 99), 'ms')
      add('relay', 'worker to a client on another node, max', Math.max(...latencies), 'ms')
    })
  }

  async function failover(): Promise<void> {
    const detection: number[] = []
    const resume: number[] = []
    const resumedFrom: number[] = []
    let lost = 0
    let duplicated = 0
    let total = 0
    for (let round = 0; round < size.failoverRounds; round++) {
      await withSystem({ workMs: 6000 }, async (c) => {
        const us = await users(c, size.failoverUsers)
        total += us.length
        for (const u of us) u.client.send({ type: 'request' })
        // Kill once most downloads are mid-way: waiting for the slowest to start would let the
        // others finish first, and a finished download has nothing to fail over.
        const midway = (d: Record<string, any> | null) =>
          d?.state === 'processing' && d.progress >= 20
        await eventually(
          () =>
            us.filter((u) =>
              u.client.messages.some((m) => m.type === 'download' && midway(m.download)),
            ).length >=
            (2 * us.length) / 3,
          'two thirds of the downloads mid-way',
          60_000,
        )
        const latest = (u: User) =>
          [...u.client.messages].reverse().find((m) => m.type === 'download' && m.download)
        const first = us.map((u) => {
          const m = latest(u)
          return m?.type === 'download' ? m.download : null
        })
        const owners = new Map<string, number>()
        for (const d of first)
          if (d && midway(d)) owners.set(d.ownerName, (owners.get(d.ownerName) ?? 0) + 1)
        const victimName = [...owners].sort((a, b) => b[1] - a[1])[0]![0]
        const victim = c.nodes.findIndex((n) => n.name === victimName)
        const observer = c.nodes.find((_, i) => i !== victim)!.name
        const killedAt = Date.now()
        c.signal(victim, 'SIGKILL')
        const watch = c.deadAfter(victim, observer, killedAt, 120_000).then((at) => {
          if (at !== null) detection.push(at - killedAt)
        })
        // Clients of the dead node reconnect to a live one, as the page does.
        for (const u of us) {
          if (u.node !== victim) continue
          u.client.close()
          u.node = (victim + 1) % c.nodes.length
          u.client = await Client.connect(c.nodes[u.node]!.url, u.cookie)
        }
        await Promise.all(
          us.map(async (u, i) => {
            const ready = await u.client
              .seen((d) => d?.state === 'ready', 150_000, 'ready')
              .catch(() => null)
            if (!ready) return void lost++
            if (first[i] && ready.id !== first[i]!.id) duplicated++
            if (first[i]?.ownerName !== victimName || !midway(first[i]!)) return
            const k = u.client.messages.findIndex((m, j) => {
              const d = m.type === 'download' ? m.download : null
              return (
                u.client.times[j]! >= killedAt &&
                (d?.state === 'processing' || d?.state === 'ready') &&
                d.ownerName &&
                d.ownerName !== victimName
              )
            })
            if (k < 0) return
            resume.push(u.client.times[k]! - killedAt)
            const moved = u.client.messages[k]
            if (moved?.type === 'download' && moved.download)
              resumedFrom.push(moved.download.progress as number)
          }),
        )
        await watch
        for (const u of us) u.client.close()
      })
    }
    add(
      'failover',
      'SIGKILL to the dead verdict (stalled jobs for BullMQ), median',
      pct(detection, 50),
      'ms',
    )
    add('failover', 'SIGKILL to first progress from another worker, median', pct(resume, 50), 'ms')
    add('failover', 'SIGKILL to first progress from another worker, max', pct(resume, 100), 'ms')
    add('failover', 'progress the moved downloads went on from, median', pct(resumedFrom, 50), '%')
    add('failover', `downloads lost (of ${total})`, lost, '')
    add('failover', `downloads duplicated (of ${total})`, duplicated, '')
    if (ctx.system().label === clusterSystem.label)
      await partitionRounds({
        rounds: size.failoverRounds,
        usersPerRound: size.failoverUsers,
        add,
        users,
        pct,
      })
  }

  async function convergence(): Promise<void> {
    await withSystem({ workMs: 200 }, async (c) => {
      const times: number[] = []
      for (let i = 0; i < size.convergence; i++) {
        const cookie = await sessionCookie(c.nodes[0]!.url)
        const clients = await Promise.all(c.nodes.map((n) => Client.connect(n.url, cookie)))
        await Promise.all(clients.map((x) => x.next((m) => m.type === 'download')))
        const sent = Date.now()
        clients[0]!.send({ type: 'request' })
        const seenAt = await Promise.all(
          clients
            .slice(1)
            .map((x) =>
              x
                .wait((m) => m.type === 'download' && m.download !== null, 10_000)
                .then(() => Date.now()),
            ),
        )
        times.push(Math.max(...seenAt) - sent)
        for (const x of clients) x.close()
      }
      add('convergence', 'request on one node until visible on all, median', pct(times, 50), 'ms')
      add('convergence', 'request on one node until visible on all, p99', pct(times, 99), 'ms')
    })
  }

  async function connections(): Promise<void> {
    await withSystem({ workMs: 1000, inspect: true }, async (c) => {
      const node = c.nodes[0]!
      const cookie = await sessionCookie(node.url)
      await sleep(500)
      // After a collection on both sides, so the figure is what a socket holds, not the
      // garbage its first messages left (which swung the figure by 3 KB between runs).
      const before = await c.rssAfterGcKb(0)
      const clients: Client[] = []
      for (let i = 0; i < size.connections; i += 200) {
        clients.push(
          ...(await Promise.all(
            Array.from({ length: Math.min(200, size.connections - i) }, () =>
              Client.connect(node.url, cookie),
            ),
          )),
        )
      }
      await Promise.all(clients.map((cl) => cl.next((m) => m.type === 'download')))
      await sleep(1000)
      const after = await c.rssAfterGcKb(0)
      const sent = Date.now()
      clients[0]!.send({ type: 'request' })
      await Promise.all(clients.map((cl) => cl.seen((d) => d !== null, 60_000, 'the update')))
      add(
        'connections',
        `memory per idle WebSocket (${clients.length} on one node, after GC)`,
        ((after - before) * 1024) / clients.length,
        'bytes',
      )
      add('connections', `one update pushed to all ${clients.length}`, Date.now() - sent, 'ms')
      for (const cl of clients) cl.close()
    })
  }

  async function storage(): Promise<void> {
    // Long enough that replication lag (seconds at worst under load, see throughput p99) does not
    // expire a download before its client sees it ready.
    const retentionMs = 8000
    await withSystem({ workMs: 200, retentionMs }, async (c) => {
      const before = await c.storageBytes()
      const us = await users(c, size.storage)
      for (const u of us) u.client.send({ type: 'request' })
      await Promise.all(us.map((u) => u.client.seen((d) => d?.state === 'ready', 60_000, 'ready')))
      await sleep(500)
      const filled = await c.storageBytes()
      await c.afterRetention(
        us.map((u) => u.client),
        retentionMs,
      )
      const purged = await c.storageBytes()
      add(
        'storage',
        'bytes per completed download',
        (filled - before) / size.storage,
        `bytes (${c.storageWhat})`,
      )
      add(
        'storage',
        'bytes per download left after the TTL purge',
        (purged - before) / size.storage,
        `bytes (${c.storageWhat})`,
      )
      for (const u of us) u.client.close()
    })
  }
  return { throughput, relay, failover, convergence, connections, storage }
}
