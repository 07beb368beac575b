/**
 * The throughput scenario's bursts: every user requests at once on fresh processes, then again
 * after warm-up bursts of the same size (users dismiss between them), and the figures of the
 * first and of the last, with the CPU time the system's processes spent per download, counted
 * from quiet to quiet; then a steady load of a few users, one download after another.
 */
import type { BenchUser } from './bench-scenarios.ts'
import type { Running, Scenario } from './bench-systems.ts'

type User = BenchUser

export interface ThroughputBursts {
  c: Running
  us: User[]
  /** Bursts before the warm one. */
  warmRounds: number
  /** Users, and for how long, in the steady load after the bursts. */
  steadyUsers: number
  steadySeconds: number
  add(scenario: Scenario, figure: string, value: number, unit: string): void
  pct(xs: number[], p: number): number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function throughputBursts(o: ThroughputBursts): Promise<void> {
  const { c, us, warmRounds, add, pct } = o
  const what = `${us.length} users, 0.5 s of work each`
  const opsBefore = await c.logOps?.()
  await quiet(c)
  let cpuBefore = c.cpuMs()
  const cold = await burst(us)
  await quiet(c)
  const coldCpu = c.cpuMs() - cpuBefore
  add('throughput', `completions per second (${what})`, cold.perSecond, '/s')
  add('throughput', 'request to ready, median', pct(cold.latencies, 50), 'ms')
  add('throughput', 'request to ready, p99', pct(cold.latencies, 99), 'ms')
  add('throughput', 'CPU per download, every process', coldCpu / us.length, 'ms')
  if (opsBefore !== undefined) {
    // A client sees ready once the write reaches its node, beside the log or through it;
    // n1's view may read the last writes a moment later: counted once it stops moving.
    const ops = (await settled(c.logOps!)) - opsBefore
    add('throughput', 'log operations per download (no failure)', ops / us.length, '')
  }
  // The same burst again once the processes are warm (their JIT has compiled the hot
  // paths, their caches are filled): what a system that has run for a while does.
  for (let round = 0; round < warmRounds; round++) {
    await dismissAll(us)
    if (round < warmRounds - 1) await burst(us)
  }
  await quiet(c)
  cpuBefore = c.cpuMs()
  const warm = await burst(us)
  await quiet(c)
  const warmCpu = c.cpuMs() - cpuBefore
  const after = `after ${warmRounds} burst${warmRounds === 1 ? '' : 's'}`
  add('throughput', `completions per second, warm (${what}, ${after})`, warm.perSecond, '/s')
  add('throughput', 'request to ready, warm, median', pct(warm.latencies, 50), 'ms')
  add('throughput', 'request to ready, warm, p99', pct(warm.latencies, 99), 'ms')
  add('throughput', 'CPU per download, warm, every process', warmCpu / us.length, 'ms')
  await dismissAll(us)
  await steady(o)
}

/**
 * Steady load, the way a service runs most of the day rather than in bursts: a few users, each
 * asking for a download as soon as the last was ready and dismissed, for a while. What a
 * system does per download when there is little to batch together.
 */
async function steady(o: ThroughputBursts): Promise<void> {
  const { c, add, pct } = o
  const us = o.us.slice(0, o.steadyUsers)
  const what = `${us.length} users one download after another, for ${o.steadySeconds} s`
  await quiet(c)
  const cpuBefore = c.cpuMs()
  const started = Date.now()
  const until = started + o.steadySeconds * 1000
  const latencies: number[] = []
  await Promise.all(
    us.map(async (u) => {
      while (Date.now() < until) {
        const sent = Date.now()
        const ready = u.client.download((d) => d?.state === 'ready', 120_000, 'ready')
        u.client.send({ type: 'request' })
        await ready
        latencies.push(Date.now() - sent)
        const cleared = u.client.download((d) => d === null, 30_000, 'dismissed')
        u.client.send({ type: 'dismiss' })
        await cleared
      }
    }),
  )
  const seconds = (Date.now() - started) / 1000
  const cpu = c.cpuMs() - cpuBefore
  add('throughput', `completions per second, steady (${what})`, latencies.length / seconds, '/s')
  add('throughput', 'request to ready, steady, p99', pct(latencies, 99), 'ms')
  add('throughput', 'CPU per download, steady, every process', cpu / latencies.length, 'ms')
}

/** Every user requests at once; how long until the last saw its download ready, and each's wait. */
async function burst(us: User[]): Promise<{ perSecond: number; latencies: number[] }> {
  const started = Date.now()
  const sent: number[] = []
  const done = await Promise.all(
    us.map((u) => {
      // Waits for a ready still to come: an earlier round's is already among the messages.
      const ready = u.client.download((d) => d?.state === 'ready', 120_000, 'ready')
      sent.push(Date.now())
      u.client.send({ type: 'request' })
      return ready.then(() => Date.now())
    }),
  )
  return {
    perSecond: us.length / ((Math.max(...done) - started) / 1000),
    latencies: done.map((t, i) => t - sent[i]!),
  }
}

/**
 * Until the system's processes, together, use less than a fifth of a core over half a
 * second (at most 15 s): a burst's CPU is counted from quiet to quiet, its tail included
 * (the copies of files, the log's last operations), and nothing of the one before.
 */
async function quiet(c: Running): Promise<void> {
  const deadline = Date.now() + 15_000
  let before = c.cpuMs()
  while (Date.now() < deadline) {
    await sleep(500)
    const now = c.cpuMs()
    if (now - before < 100) return
    before = now
  }
}

async function dismissAll(us: User[]): Promise<void> {
  await Promise.all(
    us.map((u) => {
      const cleared = u.client.download((d) => d === null, 30_000, 'dismissed')
      u.client.send({ type: 'dismiss' })
      return cleared
    }),
  )
}

/** A count once two reads half a second apart agree (ten seconds at most). */
async function settled(read: () => Promise<number>): Promise<number> {
  let last = await read()
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 500))
    const now = await read()
    if (now === last) return now
    last = now
  }
  return last
}
