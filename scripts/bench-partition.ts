/**
 * The cluster's other failover, beside SIGKILL: the network splits. Three test hosts (network
 * namespaces, lib/hosts.ts); the host owning the most running downloads is cut off from the
 * other two. Reports how long after the cut its workers had all stopped, and the other side's
 * first takeover: the first must come before the second. BullMQ has no such round: its
 * workers' one peer is Redis. Needs root, `ip` and `nft`; says so and skips without them.
 */
import { eventually } from './lib/eventually.ts'
import { createHosts, hostsUnavailable } from './lib/hosts.ts'
import { parseLine, type LogLine } from './lib/node-lines.ts'
import { processCluster, waitForCluster, type ProcessCluster } from './lib/processes.ts'
import type { BenchUser } from './bench-scenarios.ts'
import type { Scenario } from './bench-systems.ts'

export interface PartitionRounds {
  rounds: number
  usersPerRound: number
  add(scenario: Scenario, figure: string, value: number, unit: string): void
  /** Users with a socket each, spread over the nodes. */
  users(c: { nodes: { url: string }[] }, n: number): Promise<BenchUser[]>
  pct(xs: number[], p: number): number
}

export async function partitionRounds(o: PartitionRounds): Promise<void> {
  const why = await hostsUnavailable()
  if (why) return void process.stderr.write(`  partition round skipped: ${why}\n`)
  const stopped: number[] = []
  const tookOver: number[] = []
  for (let round = 0; round < o.rounds; round++) {
    const hosts = await createHosts(3)
    let c: ProcessCluster | null = null
    try {
      c = await processCluster(
        3,
        ['--work-ms', '6000'],
        0,
        (i) => hosts.exec(i),
        (i) => hosts.hosts[i]!.ip,
      )
      const nodes = c.nodes
      await waitForCluster(nodes)
      const us = await o.users(c, o.usersPerRound)
      for (const u of us) u.client.send({ type: 'request' })
      const running = () =>
        us.flatMap((u) => {
          const m = [...u.client.messages].reverse().find((x) => x.type === 'download')
          const d = m?.type === 'download' ? m.download : null
          return d?.state === 'processing' && d.progress >= 20 ? [d] : []
        })
      await eventually(() => running().length >= (2 * us.length) / 3, 'two thirds mid-way', 60_000)
      const owned = new Map<string, number>()
      for (const d of running()) owned.set(d.ownerName, (owned.get(d.ownerName) ?? 0) + 1)
      const [victimName, victimOwns] = [...owned].sort((a, b) => b[1] - a[1])[0]!
      const lines = () =>
        nodes.flatMap((n) => n.lines.map((l) => parseLine(l)).filter((l): l is LogLine => !!l))
      const stops = () =>
        lines().filter(
          (l) => l.node === victimName && l.event === 'stopped' && l.fields.reason === 'cut-off',
        )
      const takeovers = () => lines().filter((l) => l.node !== victimName && l.event === 'takeover')

      const cutAt = Date.now()
      await hosts.cut(nodes.findIndex((n) => n.name === victimName))
      await eventually(() => stops().length >= victimOwns, 'the cut-off side stopped', 10_000)
      await eventually(() => takeovers().length > 0, 'a takeover on the other side', 10_000)
      stopped.push(Math.max(...stops().map((l) => l.at)) - cutAt)
      tookOver.push(Math.min(...takeovers().map((l) => l.at)) - cutAt)
      for (const u of us) u.client.close()
    } finally {
      await c?.teardown()
      await hosts.teardown()
    }
  }
  o.add(
    'failover',
    "partition: cut to the cut-off side's workers stopped, median",
    o.pct(stopped, 50),
    'ms',
  )
  o.add(
    'failover',
    "partition: cut to the other side's first takeover, median",
    o.pct(tookOver, 50),
    'ms',
  )
}
