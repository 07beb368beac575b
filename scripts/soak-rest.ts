/**
 * The soak's disk at rest (scripts/soak.ts): what a run leaves in the data directories once its
 * users stop, their downloads are purged and each node has swept its store (a node sweeps a
 * minute after its last write, core-sweep.ts). Measured once a tenth of the run is done, with
 * the users held, and at the end: the "a run of 10x the downloads leaves the data
 * directories no bigger than a run of 1x".
 */
import { basename, relative } from 'node:path'
import { fileBytes } from '../src/disk-space.ts'
import { INFO_LOG_MAX_BYTES } from '../src/store/info-log.ts'
import type { NodeProcess } from './lib/processes.ts'
import type { SoakSchedule } from './soak-user.ts'

/**
 * How long the users' last downloads, the two compactions at rest and the nodes' sweeps may
 * take: the dismissals of the last two minutes or so are carried by the first compaction and
 * dropped by the next once they expire.
 */
const REST_TIMEOUT_MS = 8 * 60_000
/** Writes may still land this long after the users stop (a dismissal's block). */
const SETTLE_MS = 5_000
/**
 * A sweep with nothing written for this long before it, and no core of a log left behind still
 * closing (`closing=0`), found the store at rest: the sweep thirty seconds after the last
 * compaction at rest, or its follow-up once the old log's cores have closed.
 */
const QUIET_MS = 25_000
/**
 * Cores that are still closing this long after the cluster was compacted down will not close
 * on their own (a close that hangs: the soak saw nine on one node for four minutes): they are
 * what stays on disk, so past this a node's latest quiet sweep is its rest, whatever it found
 * closing, and the figure says how many.
 */
const CLOSING_GRACE_MS = 3 * 60_000

export interface Rest {
  /** The three data directories together. */
  bytes: number
  /** Downloads made when the users stopped. */
  made: number
  /** How long it took to come to rest. */
  ms: number
  /** The bytes by what holds them (`kindOf`), the three directories together. */
  kinds: Map<string, number>
  /** Cores of old logs still closing at the sweep that marked the rest, every node together. */
  closing?: number
}

/**
 * What a file in a data directory is: RocksDB's tables, blob files, write-ahead log, info log
 * and manifest, the finished files, or the path's first folder. What is left at rest, by kind,
 * says which part of the store does not shrink.
 */
export function kindOf(pathInDataDir: string): string {
  const name = basename(pathInDataDir)
  if (pathInDataDir.startsWith('files/')) return 'files'
  if (name.endsWith('.sst')) return 'sst'
  if (name.endsWith('.blob')) return 'blob'
  if (/^\d+\.log$/.test(name)) return 'wal'
  if (name.startsWith('LOG')) return 'info-log'
  if (name.startsWith('MANIFEST')) return 'manifest'
  if (name.startsWith('OPTIONS')) return 'options'
  return pathInDataDir.split('/')[0] === name ? 'other' : `${pathInDataDir.split('/')[0]}/other`
}

async function measure(nodes: NodeProcess[]): Promise<Pick<Rest, 'bytes' | 'kinds'>> {
  const kinds = new Map<string, number>()
  let bytes = 0
  for (const n of nodes)
    for (const f of await fileBytes(n.dataDir, true)) {
      const kind = kindOf(relative(n.dataDir, f.path))
      kinds.set(kind, (kinds.get(kind) ?? 0) + f.bytes)
      bytes += f.bytes
    }
  return { bytes, kinds }
}

/** Megabytes, as the soak prints them. */
export const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`
/** Kilobytes: the store's data at rest is a few hundred, which MB to one decimal blurs. */
const kb = (bytes: number) => `${Math.round(bytes / 1024)} KB`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Whether a node is at rest, from its log lines since the cluster was seen compacted down
 * (`sinceMs` ago), and how many cores it still had closing then: a quiet sweep since with none
 * closing or, past CLOSING_GRACE_MS, its latest quiet sweep. Null: not yet.
 */
export function sweptAtRest(lines: readonly string[], sinceMs: number): number | null {
  let latest: number | null = null
  for (const l of lines) {
    const sweep = / store-swept .*closing=(\d+) .*idleMs=(\d+)/.exec(l)
    if (!sweep || Number(sweep[2]) < QUIET_MS) continue
    if (sweep[1] === '0') return 0
    latest = Number(sweep[1])
  }
  return sinceMs >= CLOSING_GRACE_MS ? latest : null
}

/** A node's latest line that matches, or 'none'. */
function lastLine(n: NodeProcess, what: RegExp): string {
  return [...n.lines].reverse().find((l) => what.test(l)) ?? 'none'
}

async function health(n: NodeProcess): Promise<{ records: number; log: { length: number } }> {
  return (await fetch(n.url + '/healthz')).json() as Promise<{
    records: number
    log: { length: number }
  }>
}

/**
 * Waits until `idle` (every user done or held), no record is visible on any node, every
 * node's log is compacted down to less than `smallLog` operations (what a compaction at rest
 * leaves, log-compaction.ts) and every node has swept its store since with nothing left
 * closing, then measures. Null if that did not happen in time.
 */
export async function diskAtRest(
  nodes: NodeProcess[],
  idle: () => boolean,
  made: () => number,
  smallLog: number,
): Promise<Rest | null> {
  const since = Date.now()
  const deadline = since + REST_TIMEOUT_MS
  while (!idle()) {
    if (Date.now() > deadline) return null
    await sleep(200)
  }
  const downloads = made()
  await sleep(SETTLE_MS)
  /** Each node's lines when the cluster was last seen empty and compacted; null: it is not. */
  let marks: number[] | null = null
  let markedAt = 0
  const swept = (n: NodeProcess, i: number) =>
    sweptAtRest(n.lines.slice(marks![i]), Date.now() - markedAt)
  let states: Awaited<ReturnType<typeof health>>[] | null = null
  while (Date.now() < deadline) {
    states = await Promise.all(nodes.map(health)).catch(() => null)
    const empty = states?.every((h) => h.records === 0 && h.log.length < smallLog) ?? false
    if (!empty) marks = null
    else if (!marks) {
      marks = nodes.map((n) => n.lines.length)
      markedAt = Date.now()
    } else {
      const closing = nodes.map(swept)
      if (closing.every((c) => c !== null)) {
        // Cores that did not close: what each such node's sweep said of them (`stuck`).
        nodes.forEach((n, i) => {
          if (closing[i])
            console.log(`cores still closing at rest on ${n.name}: ${lastLine(n, / store-swept /)}`)
        })
        return {
          ...(await measure(nodes)),
          made: downloads,
          ms: Date.now() - since,
          closing: closing.reduce<number>((sum, c) => sum + (c ?? 0), 0),
        }
      }
    }
    await sleep(2000)
  }
  // Not at rest: what each node was at, for the next run to explain.
  nodes.forEach((n, i) => {
    console.log(
      `not at rest: ${n.name} records ${states?.[i]?.records ?? '?'}, log ` +
        `${states?.[i]?.log.length ?? '?'} (at rest below ${smallLog}), ` +
        `${marks ? 'compacted down' : 'not compacted down'}\n  last sweep: ` +
        `${lastLine(n, / store-swept /)}\n  last compaction: ${lastLine(n, / log-compact /)}`,
    )
  })
  return null
}

/** Holds the users, measures the disk at rest, lets them go on. */
export async function restDuring(
  nodes: NodeProcess[],
  schedule: SoakSchedule,
  users: number,
  made: () => number,
  smallLog: number,
): Promise<Rest | null> {
  schedule.hold()
  try {
    return await diskAtRest(nodes, () => schedule.held === users, made, smallLog)
  } finally {
    schedule.release()
  }
}

/**
 * RocksDB's OPTIONS files at rest, per node: a copy of its settings written at each open, of
 * which it keeps the newest two (12.5 KB each here). A node restarted has two where one never
 * restarted has one, which alone made a chaos soak's store 1.22x at rest.
 */
export const OPTIONS_MAX_BYTES_PER_NODE = 2 * 16 * 1024

/** The disk at rest after a run of ten times the downloads: at most this much more. */
const REST_LIMIT = 1.2

/**
 * What the info logs may hold at rest, all nodes together: each is trimmed past
 * INFO_LOG_MAX_BYTES by the sweep that marks the rest, and RocksDB writes a few KB after it.
 */
export function infoLogCap(nodes: number): number {
  return nodes * INFO_LOG_MAX_BYTES * 1.1
}

/**
 * What RocksDB's manifest may grow by between the rests, per download made in between. The
 * manifest is RocksDB's record of every flush and compaction (about 230 bytes each, measured),
 * started afresh only when a store is opened or passes `max_manifest_file_size`, 1 GB, which
 * rocksdb-native 3.18 does not let us set: it grows with the sweeps and flushes a node makes,
 * not with what it keeps, so it is judged by its own rate. Measured about 0.004 KB per
 * download for three nodes at a move every 3,000 operations; a sweep or a flush per download
 * would be about 0.7 KB.
 */
export const MANIFEST_KB_PER_DOWNLOAD = 0.05

/**
 * The disk at rest after a tenth of the run and after all of it: the store's data within
 * REST_LIMIT, whatever the downloads made in between, RocksDB's info logs within their cap and
 * its manifest within its rate. The info log is judged apart because it is bounded by time and
 * trimming, not by the downloads: a file of a few lines per flush that the sweep cuts back past
 * 1 MB, so at rest it is anywhere from nothing to 1 MB per node, a saw-tooth that alone swung
 * the whole figure 2.7x on a store whose data was 0.2 MB at both rests. The manifest is judged
 * apart because it is a log of the store's history (MANIFEST_KB_PER_DOWNLOAD): 0.1 MB of it
 * made a 0.2 MB store 1.31x.
 */
export function restVerdict([a, b]: (Rest | null)[], nodes = 3): boolean {
  if (!a || !b) {
    console.log(`disk at rest: CANNOT BE JUDGED (the cluster did not come to rest within minutes)`)
    return false
  }
  const infoLog = (r: Rest) => r.kinds.get('info-log') ?? 0
  const manifest = (r: Rest) => r.kinds.get('manifest') ?? 0
  const options = (r: Rest) => r.kinds.get('options') ?? 0
  const data = (r: Rest) => r.bytes - infoLog(r) - manifest(r) - options(r)
  const ratio = data(b) / Math.max(1, data(a))
  const dataOk = ratio <= REST_LIMIT
  const cap = infoLogCap(nodes)
  const logOk = infoLog(a) <= cap && infoLog(b) <= cap
  const manifestRate = (manifest(b) - manifest(a)) / 1024 / Math.max(1, b.made - a.made)
  const manifestOk = manifestRate <= MANIFEST_KB_PER_DOWNLOAD
  const optionsCap = nodes * OPTIONS_MAX_BYTES_PER_NODE
  const optionsOk = options(a) <= optionsCap && options(b) <= optionsCap
  console.log(
    `disk at rest (users stopped, downloads purged, stores swept): ${mb(a.bytes)} after ` +
      `${a.made} downloads, ${mb(b.bytes)} after ${b.made}; ` +
      `${(b.bytes / b.made / 1024).toFixed(2)} KB per download made; came to rest in ` +
      `${Math.round(a.ms / 1000)} and ${Math.round(b.ms / 1000)} s` +
      ([a, b].some((r) => r.closing)
        ? ` (cores of old logs still closing, kept in the figure: ${a.closing ?? 0} and ${b.closing ?? 0})`
        : ''),
  )
  console.log(
    `  the store's data: ${kb(data(a))} -> ${kb(data(b))} (${ratio.toFixed(2)}x, limit ` +
      `${REST_LIMIT.toFixed(2)}x): ${dataOk ? 'bounded' : 'GREW'}; RocksDB's info logs: ` +
      `${mb(infoLog(a))} -> ${mb(infoLog(b))} (cap ${mb(cap)}): ${logOk ? 'within' : 'OVER'}; ` +
      `its manifest: ${kb(manifest(a))} -> ${kb(manifest(b))} (${manifestRate.toFixed(4)} KB ` +
      `per download made in between, limit ${MANIFEST_KB_PER_DOWNLOAD}): ` +
      `${manifestOk ? 'within' : 'OVER'}; its OPTIONS files: ${kb(options(a))} -> ` +
      `${kb(options(b))} (cap ${kb(optionsCap)}): ${optionsOk ? 'within' : 'OVER'}`,
  )
  console.log(
    `  by kind: ${[...new Set([...a.kinds.keys(), ...b.kinds.keys()])]
      .map((k) => ({ k, a: a.kinds.get(k) ?? 0, b: b.kinds.get(k) ?? 0 }))
      .sort((x, y) => y.b - x.b)
      .map(({ k, a, b }) => `${k} ${kb(a)} -> ${kb(b)}`)
      .join(', ')}`,
  )
  return dataOk && logOk && manifestOk && optionsOk
}
