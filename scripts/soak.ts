/**
 * `npm run soak -- --minutes N`: downloads without end through a three-node cluster, as users
 * would make them (request, wait for ready, fetch the file, dismiss, again), with a short
 * retention so that purges run all along. Every ten seconds it prints, per node, the data
 * directory's size, the node's resident memory, the length of the replicated log and the
 * records it shows.
 *
 * At the end it judges disk (each data directory, measured every second) and memory (each
 * node's, every ten seconds) on the samples after the warm-up. Both saw-tooth, so on a level
 * that many teeth set: the span cut into three to six segments of at least two minutes, each
 * node's lower quartile in each, added up across the nodes; the least-squares slope of those
 * sums is projected over the span as a share of their mean (scripts/lib/growth.ts). Past
 * --max-growth (10 %) on either it says which and exits 1: a node that runs for months must
 * level off, not grow with every download ever made.
 *
 * And it measures what the run leaves on disk at rest (scripts/soak-rest.ts): a tenth of the
 * way in it holds the users, waits for the cluster to purge their downloads and sweep, measures
 * the data directories and lets the users go on (the run lasts that much longer; the samples
 * skip the hold); at the end it does the same. The store's data more than 1.2x between the two
 * (ten times the downloads), or RocksDB's info logs past their cap, exits 1 too.
 *
 * With `--kill-every S` a node, each in turn, is killed with SIGKILL every S seconds and started
 * again (scripts/lib/chaos.ts): then a download lost, failed, stuck or not served fails the
 * run, and disk and memory are reported but not judged.
 */
import { SoakSchedule, soakUser, STUCK_MS } from './soak-user.ts'
import { sample } from './lib/soak-sample.ts'
import { diskAtRest, mb, restDuring, restVerdict, type Rest } from './soak-rest.ts'
import { DEFAULTS } from '../src/config.ts'
import { idleCompactionLeaves } from '../src/cluster/log-compaction.ts'
import { processCluster, waitForCluster, type NodeProcess } from './lib/processes.ts'
import { DiskSampler } from './lib/disk-sampler.ts'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { floor, judgeGrowth, MIN_SEGMENT_S, type Sample } from './lib/growth.ts'
import { parseLine } from './lib/node-lines.ts'
import { NodeSeries } from './lib/node-series.ts'
import { parseArgs } from './soak-args.ts'
import { Chaos } from './lib/chaos.ts'

/** How often the nodes are sampled. */
const SAMPLE_MS = 10_000
/** The disk's floor for the report of bytes per download: its lowest over this window. */
const FLOOR_WINDOW_S = 60

/** `HH:MM:SS` moved by `s` seconds (within the day, as the nodes' lines are stamped). */
function addSeconds(hms: string, s: number): string {
  const [h, m, sec] = hms.split(':').map(Number) as [number, number, number]
  const t = (((h * 3600 + m * 60 + sec + s) % 86_400) + 86_400) % 86_400
  const pad = (n: number) => String(Math.floor(n)).padStart(2, '0')
  return `${pad(t / 3600)}:${pad((t % 3600) / 60)}:${pad(t % 60)}`
}

/** Downloads made so far by every user, for the samples. */
let madeSoFar = 0

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2))
  const warmupS = 60 * (o.warmupMinutes ?? Math.max(1, o.minutes / 3))
  // Three segments, and the ten seconds between samples at either end.
  const judgedS = 3 * MIN_SEGMENT_S + 2 * (SAMPLE_MS / 1000)
  if (o.minutes * 60 - warmupS < judgedS)
    throw new Error(
      `the run must last at least ${judgedS} s past the warm-up ` +
        `(${(warmupS / 60).toFixed(1)} min): growth is judged on three segments of ` +
        `${MIN_SEGMENT_S / 60} minutes or more`,
    )
  const c = await processCluster(3, [
    '--work-ms',
    String(o.workMs),
    '--retention-ms',
    String(o.retentionMs),
    // A soak user acts every second or two, faster than the per-user default allows.
    '--actions-per-minute',
    '600',
    ...(o.logCompactOps ? ['--log-compact-ops', String(o.logCompactOps)] : []),
  ])
  // What a compaction at rest leaves: less than a hundredth of the threshold (log-compaction.ts).
  const smallLog = idleCompactionLeaves(o.logCompactOps ?? DEFAULTS.logCompactOps)
  const started = Date.now()
  const schedule = new SoakSchedule(started + o.minutes * 60_000)
  /**
   * Per node: `disk` every second (disk-sampler.ts), `memory` and its split (V8's `heap`,
   * of it `heapUsed`, and the `native` rest) every ten seconds.
   */
  const series = new NodeSeries(c.nodes.length)
  /** The data directories together at each ten-second sample, and downloads made by then. */
  const diskEvery10s: Sample[] = []
  const madeAt: number[] = []
  let timer: NodeJS.Timeout | undefined
  let restTimer: NodeJS.Timeout | undefined
  let diskSampler: DiskSampler | undefined
  const chaos =
    o.killEverySeconds === null
      ? null
      : new Chaos(c, {
          everyMs: o.killEverySeconds * 1000,
          downMs: o.downSeconds * 1000,
          holding: () => schedule.holding,
        })
  /** Nodes whose exit was reported. */
  const reportedGone = new Set<string>()
  /** The disk at rest a tenth of the way in, and at the end. */
  let early: Promise<Rest | null> = Promise.resolve(null)
  try {
    await waitForCluster(c.nodes)
    console.log(
      `soak: ${o.users} users on 3 nodes for ${o.minutes} min, ${o.workMs} ms of work, ` +
        `${o.retentionMs} ms retention; judged after ${Math.round(warmupS)} s`,
    )
    diskSampler = new DiskSampler(
      c.nodes.map((n) => n.dataDir),
      () => (schedule.holding ? null : (Date.now() - started - schedule.heldMs) / 1000),
      (t, bytes) => series.push('disk', t, bytes),
    )
    diskSampler.start()
    const isUp = chaos ? (i: number) => chaos.isUp(i) : undefined
    const users = Array.from({ length: o.users }, (_, i) =>
      soakUser({ nodes: c.nodes, home: i % 3, isUp }, schedule, () => madeSoFar++),
    )
    restTimer = setTimeout(() => {
      early = restDuring(c.nodes, schedule, o.users, () => madeSoFar, smallLog)
      // The kills start after the first rest: it measures a cluster that never crashed.
      const kills = () => chaos?.start()
      void early.then(kills, kills)
    }, o.minutes * 6_000)
    timer = setInterval(() => {
      // The samples are of the load: none while the users are held, and the time of the load.
      if (schedule.holding) return
      // A killed node has no sample to give until it is back.
      if (chaos && c.nodes.some((_, i) => !chaos.isUp(i))) return
      void Promise.all(c.nodes.map(sample)).then(
        (samples) => {
          const t = (Date.now() - started - schedule.heldMs) / 1000
          diskEvery10s.push({ t, value: samples.reduce((s, x) => s + x.bytes, 0) })
          madeAt.push(madeSoFar)
          const rss = samples.map((x) => x.rssKb * 1024)
          series.push('memory', t, rss)
          if (samples.every((x) => x.heapBytes !== null)) {
            series.push(
              'heap',
              t,
              samples.map((x) => x.heapBytes!),
            )
            series.push(
              'heapUsed',
              t,
              samples.map((x) => x.heapUsedBytes ?? 0),
            )
            series.push(
              'native',
              t,
              samples.map((x, i) => rss[i]! - x.heapBytes!),
            )
          }
          const per = samples.map(
            (x, i) =>
              `${c.nodes[i]!.name} ${mb(x.bytes)} disk, ${mb(x.rssKb * 1024)} rss` +
              `${x.heapBytes === null ? '' : ` (heap ${mb(x.heapBytes)})`}, ` +
              `log ${x.logLength}, ${x.records} records`,
          )
          console.log(`${Math.round(t)} s  ${per.join(' | ')}`)
        },
        (err: Error) => {
          // A node the chaos killed is expected to fail its sample.
          if (chaos && c.nodes.some((_, i) => !chaos.isUp(i))) return
          console.log(`sample failed: ${err.message}`)
          // A node that is gone says so once, with how it ended and what it said last.
          for (const n of c.nodes)
            if (n.exited && !reportedGone.has(n.name)) {
              reportedGone.add(n.name)
              console.log(`${n.name} EXITED (${n.exited}); its last lines:`)
              for (const l of n.lines.slice(-30)) console.log(`  ${l}`)
            }
        },
      )
    }, SAMPLE_MS)
    const results = await Promise.all(users)
    await chaos?.stop()
    clearInterval(timer)
    diskSampler.stop()
    const rests = [
      await early,
      await diskAtRest(
        c.nodes,
        () => true,
        () => madeSoFar,
        smallLog,
      ),
    ]
    const made = results.reduce((a, r) => a + r.made, 0)
    const refused = new Map<string, number>()
    for (const r of results)
      for (const [message, n] of r.refused) refused.set(message, (refused.get(message) ?? 0) + n)
    const stuck = results.flatMap((r) => r.stuck)
    const failedFiles = results.flatMap((r) => r.failedFiles)
    const lost = results.flatMap((r) => r.lost)
    const failed = results.flatMap((r) => r.failed)

    // The samples after the warm-up, over the span planned for them.
    const plannedS = o.minutes * 60 - warmupS
    const judged = (name: string) => judgeGrowth(series.of(name), warmupS, plannedS)
    const minutes = (Date.now() - started) / 60_000
    console.log(`\n${made} downloads in ${minutes.toFixed(1)} min`)
    reportDiskPerDownload(diskEvery10s, madeAt)
    for (const [message, n] of refused) console.log(`refused ${n} times: ${message}`)
    const retried = results.reduce((a, r) => a + r.retriedFiles, 0)
    if (retried > 0) console.log(`files asked again after a 503 (not on that node yet): ${retried}`)
    if (chaos)
      reportChaos(
        chaos,
        c.nodes,
        results.reduce((a, r) => a + r.reconnects, 0),
      )
    const toldOf = (id: string) =>
      c.nodes.flatMap((n) => n.lines.filter((l) => l.includes(id))).slice(-12)
    for (const l of lost) {
      console.log(
        `LOST (shown, then gone without a dismissal): user ${l.user}, ${l.id}, seen on ${l.node}`,
      )
      for (const line of toldOf(l.id)) console.log(`  ${line}`)
    }
    for (const f of failed) {
      console.log(`FAILED: user ${f.user}, ${f.id} on ${f.node}: ${f.error}`)
      for (const line of toldOf(f.id)) console.log(`  ${line}`)
    }
    for (const f of failedFiles) {
      console.log(`FILE NOT SERVED: ${f.node}: ${f.id} HTTP ${f.status}`)
      for (const l of toldOf(f.id)) console.log(`  ${l}`)
    }
    for (const st of stuck) {
      console.log(
        `STUCK (not ready in ${STUCK_MS / 1000} s): user ${st.user} on ${st.node}, asked at ${st.since}, ` +
          `the page showed ${st.shown}, socket ${st.socket}`,
      )
      // What the nodes said about this user from just before the request until it counted
      // as stuck, and what the log did around the request (a compaction is the usual suspect).
      const from = st.since.slice(0, 8) // HH:MM:SS; node lines start with the time of day
      const window = (l: string, endS: number) =>
        l >= addSeconds(from, -10) && l < addSeconds(from, endS)
      const told = c.nodes
        .flatMap((n) =>
          n.lines.filter(
            (l) =>
              (l.includes(st.user) && window(l, STUCK_MS / 1000)) ||
              (/ (log-\S+|superseded|race-lost|takeover|quorum-\S+) /.test(l) && window(l, 10)),
          ),
        )
        .sort()
      for (const l of told.slice(0, 40)) console.log(`  ${l}`)
    }
    const growth = (name: string) => {
      const g = judged(name)
      if (!g) return null
      const pct = g.growth * 100
      return {
        pct,
        text: `${pct >= 0 ? '+' : ''}${pct.toFixed(1)} % (lower quartiles ${mb(g.first)} -> ${mb(g.last)})`,
      }
    }
    const verdict = (what: string, name: string) => {
      const g = growth(name)
      // Samples lost (a node that stopped answering) leave segments empty: no verdict, no pass.
      if (!g) {
        console.log(`${what}: CANNOT BE JUDGED (fewer than 3 segments with samples of every node)`)
        return chaos !== null
      }
      const ok = g.pct <= o.maxGrowth
      // With chaos a restart empties a node's memory and compacts its store: reported only.
      const judgement = chaos ? 'not judged (nodes killed)' : ok ? 'levels off' : 'KEEPS GROWING'
      console.log(`${what}: ${g.text} over the judged span (limit ${o.maxGrowth} %): ${judgement}`)
      return ok || chaos !== null
    }
    const diskOk = verdict('disk', 'disk')
    const memoryOk = verdict('memory', 'memory')
    // Not judged: where the memory's growth is, V8's heap (a leak in JavaScript) or the rest.
    const part = (name: string) => growth(name)?.text ?? 'not enough samples'
    if (series.of('heap')[0]!.length > 0)
      console.log(
        `  of which V8's heap ${part('heap')} (in use ${part('heapUsed')}); ` +
          `the rest (native) ${part('native')}`,
      )
    const ok =
      [diskOk, memoryOk, restVerdict(rests)].every(Boolean) &&
      stuck.length === 0 &&
      failedFiles.length === 0 &&
      lost.length === 0 &&
      failed.length === 0 &&
      (chaos?.kills.every((k) => k.backAfterMs !== null) ?? true)
    process.exitCode = ok ? 0 : 1
    if (o.samplesFile) {
      const nodes = c.nodes.map((n) => n.name)
      writeFileSync(
        o.samplesFile,
        JSON.stringify({ warmupS, plannedS, nodes, series, diskEvery10s, madeAt }),
      )
    }
  } finally {
    clearInterval(timer)
    diskSampler?.stop()
    clearTimeout(restTimer)
    await chaos?.stop()
    if (o.logsDir) {
      mkdirSync(o.logsDir, { recursive: true })
      for (const n of c.nodes)
        writeFileSync(join(o.logsDir, `${n.name}.log`), n.lines.join('\n') + '\n')
      console.log(`the nodes' log lines: ${o.logsDir}/<name>.log`)
    }
    await c.teardown()
  }
}

/**
 * What the kills did: how many, how long each node took to accept downloads again, and what the
 * nodes say they did about it (downloads taken over, writes fenced off, races lost).
 */
function reportChaos(chaos: Chaos, nodes: NodeProcess[], reconnects: number): void {
  const back = chaos.kills.flatMap((k) => (k.backAfterMs === null ? [] : [k.backAfterMs]))
  back.sort((a, b) => a - b)
  // By the line's event (another line's message may name it); one with repeats=N stands for
  // N (src/log-repeats.ts).
  const count = (event: string) =>
    nodes.reduce(
      (n, x) =>
        x.lines
          .map((l) => parseLine(l))
          .filter((l) => l?.event === event)
          .reduce((k, l) => k + Number(l!.fields.repeats ?? 1), n),
      0,
    )
  console.log(
    `chaos: ${chaos.kills.length} nodes killed, ${back.length} back` +
      (back.length
        ? ` (accepting downloads ${(back[Math.floor(back.length / 2)]! / 1000).toFixed(1)} s ` +
          `median, ${(back.at(-1)! / 1000).toFixed(1)} s at most after the kill)`
        : '') +
      `; users' sockets opened again ${reconnects} times; the nodes logged ` +
      `${count('takeover')} takeovers, ${count('fenced')} fenced writes, ` +
      `${count('race-lost')} races lost, ${count('superseded')} superseded`,
  )
  for (const k of chaos.kills)
    if (k.backAfterMs === null)
      console.log(`chaos: ${k.node}, killed at ${k.at.toISOString()}, NOT BACK`)
}

/**
 * What the disk holds for the downloads made: the three data directories' floor once a tenth
 * of them were made, against the floor at the end (ten times as many), and per download.
 */
function reportDiskPerDownload(disk: Sample[], madeAt: number[]): void {
  const floors = floor(disk, FLOOR_WINDOW_S)
  const end = floors.length - 1
  const tenth = floors.findIndex((x, i) => x.t >= FLOOR_WINDOW_S && madeAt[i]! >= madeAt[end]! / 10)
  if (end < 0 || tenth < 0 || tenth >= end) return
  const [a, b] = [floors[tenth]!.value, floors[end]!.value]
  console.log(
    `disk (the data directories' floor): ${mb(a)} after ${madeAt[tenth]} downloads, ` +
      `${mb(b)} after ${madeAt[end]} (${(b / a).toFixed(2)}x); ` +
      `${(b / madeAt[end]! / 1024).toFixed(1)} KB per download made`,
  )
}

main().catch((err: Error) => {
  console.error(`soak failed: ${err.message}`)
  process.exit(2)
})
