/**
 * A node's storage: the corestore in its data directory, the record log and the files on it,
 * the repository over the log, the watch on free disk space, and what stops the node writing
 * (a disk under its reserve, a store that failed for good) as one state for the downloads.
 */
import { join } from 'node:path'
import Corestore from 'corestore'
import type { Config } from './config.ts'
import type { Clock } from './clock.ts'
import type { Fields, Logger } from './logger.ts'
import type { Closers } from './closers.ts'
import { DiskSpace, dirBytes, diskLowMessage, totalBytes, type FreeBytes } from './disk-space.ts'
import { describeError, type HealthSignals } from './health.ts'
import { RecordLog } from './store/record-log.ts'
import type { RecordTable } from './store/record-table.ts'
import { LogRepository } from './store/repository.ts'
import { BlobFileStore } from './store/file-store.ts'
import { DiskFileStore } from './store/disk-files.ts'
import { isBlobRef } from './store/record.ts'
import { Sweeper } from './store/sweeper.ts'
import { CoreBirths } from './store/core-births.ts'
import { RetiringStorage } from './store/retiring-storage.ts'
import { trimInfoLog } from './store/info-log.ts'
import { watchDataDir } from './data-dir-watch.ts'
import { cannotOpen, toldIfSlow } from './store-opening.ts'
import { startingOver, startOverWhenBehind, type StartOverReason } from './start-over.ts'
import { KnownMembers } from './cluster/known-members.ts'
import type { StorageProblem } from './downloads/manager.ts'

export interface StorageOptions {
  /** This node's member id. */
  self: string
  clock: Clock
  /** Record time (cluster/cluster-time.ts). */
  time: { now(): number }
  /** Whether record time may be purged on yet. */
  mayPurge: () => boolean
  freeBytes?: FreeBytes
  /** How long after a move the store is swept. @default 30000 */
  sweepAfterMoveMs?: number
  log: Logger
  /** What is opened here is closed from this list, in reverse. */
  closers: Closers
}

export interface NodeStorage {
  recordLog: RecordLog
  files: DiskFileStore
  repo: LogRepository
  disk: DiskSpace
  /** Settles with the error if the store fails for good: only opening it again recovers. */
  failed: Promise<Error>
  /** Stops using the store, so that the node starts again and starts over (start-over.ts). */
  startOver(reason: StartOverReason): void
  /** Tells `listener` what keeps the node from writing, now and at every change. */
  onProblem(listener: (problem: StorageProblem | null) => void): void
  /** What health.ts needs to know of the storage. */
  signals(): HealthSignals
}

const mb = (bytes: number) => Math.floor(bytes / 1048576)

/**
 * RocksDB's memtable size (hypercore-storage's default: 64 MB). Its write-ahead log grows to
 * about as much before a flush lets it go, and was most of a node's data directory between
 * compactions (16 MB of 20 to 44): the log itself is a few megabytes. A node writes a few
 * hundred kilobytes a second at full load, so 4 MB still flushes only every few seconds.
 */
const WRITE_BUFFER_BYTES = 4 * 1048576

/** The file cores that records of the table point to, expired ones included. */
function fileCores(table: RecordTable): string[] {
  const cores = new Set<string>()
  for (const { download } of table.entries.values())
    if (download.file && isBlobRef(download.file)) cores.add(download.file.core)
  return [...cores]
}

/** The names of the v8 files that records of the table point to, expired ones included. */
function fileNames(table: RecordTable): Set<string> {
  const names = new Set<string>()
  for (const { download } of table.entries.values())
    if (download.file && !isBlobRef(download.file)) names.add(download.file.name)
  return names
}

/**
 * How often the files directory is swept for files no record points to (a record that failed
 * to be written, a purge this node slept through), and how old such a file must be: a file is
 * made a moment before its record is written.
 */
const FILE_SWEEP_MS = 10 * 60_000
const ORPHAN_GRACE_MS = 60 * 60_000

export async function openStorage(config: Config, o: StorageOptions): Promise<NodeStorage> {
  const { clock, log, closers } = o
  const dir = config.dataDir
  // RocksDB's memtables default to 64 MB each, two of them: most of a busy node's memory.
  const storage = new RetiringStorage(join(dir, 'store'), { writeBufferSize: WRITE_BUFFER_BYTES })
  await storage.ready().catch(async (err: Error) => {
    await storage.close().catch(() => {})
    throw /could not be locked/i.test(err.message)
      ? new Error(
          `the data directory ${dir} is in use by another running node (its store is locked): ` +
            'stop that node first, or give this one a --data directory of its own',
        )
      : cannotOpen(dir, err)
  })
  const store = closers.add('store', new Corestore(storage), (s) => s.close())
  // Before anything opens a core: every core is born in this process (core-births.ts).
  const births = new CoreBirths(store, clock)
  const recordLog = new RecordLog({
    store,
    dataDir: dir,
    batchMs: config.logBatchMs,
    clock,
    recordTime: o.time,
    onError: (err) => log.error('log-error', { error: err.message }),
    onSlowRead: ({ index, length, waitedMs, done }) =>
      done
        ? log.info('log-read-recovered', { block: index, waitedMs })
        : log.warn('log-read-slow', { block: index, length, waitedMs }),
    onOwnWriter: {
      onBehind: startOverWhenBehind(log, (reason) => startOver(reason)),
      // A node that knew other members writes nothing alone until one has said what it holds
      // of its writer, for as long as it waits to rejoin them: a restored node that wrote
      // alone after 3 s forked its writer, and the peer that took the block stayed "joining"
      // for 58 s (a trial). One that knew none has nobody to ask.
      confirmMs:
        (await KnownMembers.load(dir, o.self)).before.size > 1 ? config.rejoinWaitMs : undefined,
    },
  })
  closers.add('log', recordLog, (l) => l.close())

  let problem: StorageProblem | null = null
  let listener: (problem: StorageProblem | null) => void = () => {}
  const tell = (next: StorageProblem | null) => {
    problem = next
    listener(next)
  }
  // Measured once: a file system smaller than the reserve's margin is told at its first low.
  const totalMb = o.freeBytes ? null : await totalBytes(dir).then(mb, () => null)
  const disk = new DiskSpace({
    dir,
    reserveBytes: config.minFreeMb * 1024 * 1024,
    clock,
    measure: o.freeBytes,
    onChange: (low, free) => {
      if (low)
        log.error('disk-low', {
          freeMb: mb(free),
          dir,
          message: diskLowMessage(config.minFreeMb, totalMb),
        })
      else log.info('disk-ok', { freeMb: mb(free) })
      if (!recordLog.failure() && !outOfUse) tell(low ? 'low' : null)
    },
    // Blind, the guard keeps its last reading: a disk that fills meanwhile fails the store.
    onError: (err) =>
      log.error('disk-measure-failed', {
        dir,
        error: err.message,
        message: `cannot measure the free space in ${dir}: the --min-free-mb guard keeps its last reading until it can`,
      }),
  })
  closers.add('disk-space', disk, (d) => d.stop())
  // Listening before the log opens: a failure while it opens is not missed.
  /** Why the store is out of use, its directory gone or the node starting over. */
  let outOfUse: Error | null = null
  let lost: (err: Error) => void = () => {}
  const failed = new Promise<Error>((resolve) => {
    recordLog.on('failed', (err) => {
      log.error('store-failed', {
        message:
          'the store failed: writes no longer land, so the node stops its work and reopens it',
        error: describeError(err),
        freeMb: mb(disk.state.free),
        dir,
      })
      tell('failed')
      resolve(err)
    })
    lost = resolve
  })
  const stopUsing = (err: Error) => {
    outOfUse = err
    tell('failed')
    lost(err)
  }
  const startOver = startingOver({ dir, clock, log, stop: stopUsing })
  const dirLost = (how: 'deleted' | 'replaced') => {
    log.error('data-dir-gone', {
      dir,
      message: `the data directory was ${how} while the node ran: its store, files and identity are no longer on the disk; the node stops its work and starts again there, as a new member if its node-id went too (the others take its downloads over)`,
    })
    stopUsing(new Error(`the data directory ${dir} was ${how} while the node ran`))
  }
  try {
    closers.add('data-dir-watch', watchDataDir(dir, clock, dirLost), (stop) => stop())
  } catch {
    dirLost('deleted') // gone already, between the store's opening and here
  }

  await toldIfSlow(recordLog.ready(), { dir, clock, log }).catch((err: Error) => {
    throw cannotOpen(dir, err)
  })
  const onUnreachable = (fields: Fields) => log.warn('file-fetch-timeout', fields)
  // The files of records written before v8, blobs in the nodes' hyperblobs cores.
  const blobs = new BlobFileStore(store, { clock, onUnreachable })
  await blobs.ready()
  const files = closers.add(
    'files',
    new DiskFileStore({ dir: join(dir, 'files'), self: o.self, blobs, clock, log, onUnreachable }),
    (f) => f.close(),
  )
  await files.ready()
  const fileSweep = clock.setInterval(() => {
    const names = fileNames(recordLog.table)
    files
      .sweep((name) => names.has(name), ORPHAN_GRACE_MS)
      .then(
        (removed) => {
          if (removed > 0) log.info('files-swept', { removed })
        },
        (err: Error) => log.error('files-sweep-failed', { error: err.message }),
      )
  }, FILE_SWEEP_MS)
  closers.add('file-sweep', fileSweep, (t) => clock.clearInterval(t))
  // Disk back from the logs this node left and the files of purged downloads.
  const storeDir = join(dir, 'store')
  let before = 0
  const sweeper = new Sweeper({
    store,
    keep: () => [
      ...recordLog.writerKeys(),
      ...recordLog.returnableWriters(),
      ...fileCores(recordLog.table),
      blobs.key,
    ],
    // Cores of the log this node is on that autobase keeps closed for a while.
    keepIds: () => births.since(recordLog.openedSince()),
    settled: () => recordLog.settled(),
    afterMoveMs: o.sweepAfterMoveMs,
    clock,
    onStart: async () => void (before = await dirBytes(storeDir)),
    onSwept: async ({
      deleted,
      deletedIds,
      spared,
      closing,
      closeStarted,
      reclaimed,
      stuck,
      kept,
      ms,
      idleMs,
    }) => {
      births.forget(deletedIds ?? [])
      // A trim that fails costs the info log's few MB, not the sweep's report.
      const info = await trimInfoLog(join(storeDir, 'db')).catch((err: Error) => {
        log.warn('info-log-trim-failed', { error: err.message })
        return { removed: 0, truncated: false }
      })
      log.info('store-swept', {
        deleted,
        closing,
        // Cores corestore's idle collection was closing already when the sweep found them.
        ...(closeStarted > 0 ? { closeStarted } : {}),
        // Cores with no session kept only as born since the log this node is on began to open.
        ...(spared ? { spared } : {}),
        // Cores open for peers only that the sweep closed, and those it could not, by why.
        ...(reclaimed ? { reclaimed } : {}),
        ...(stuck
          ? {
              stuck: Object.entries(stuck)
                .map(([why, n]) => `${why}:${n}`)
                .join(','),
            }
          : {}),
        kept,
        ms,
        beforeMb: mb(before),
        afterMb: mb(await dirBytes(storeDir)),
        // How long nothing had been written: a minute or more is a store at rest (the soak).
        idleMs: idleMs ?? undefined,
        ...(info.removed > 0 ? { infoLogsRemoved: info.removed } : {}),
        ...(info.truncated ? { infoLogTruncated: true } : {}),
      })
    },
    onError: (err) => log.error('store-sweep-failed', { error: err.message }),
  })
  closers.add('store-sweep', sweeper, (s) => s.stop())
  recordLog.on('settled', () => sweeper.soon())
  recordLog.on('writer-renewed', (key) =>
    log.warn('log-writer-renewed', {
      key: key.slice(0, 12),
      message:
        'back on a log whose writer this node had deleted; it writes under a new one, which the log admits as a plain writer',
    }),
  )
  // Merged, then read back from the log (which merges nothing new): both write the store.
  recordLog.on('change', () => sweeper.wrote())
  recordLog.on('landed', () => sweeper.wrote())
  recordLog.on('fast-forward', (to, from) => log.info('log-fast-forward', { from, to }))
  recordLog.on('stalled', (key, err) =>
    log.warn('log-stalled', {
      key: key.slice(0, 12),
      message: `${err.message}; this node closes the log and opens it again`,
    }),
  )
  recordLog.on('reopened', (key) => log.info('log-reopened', { key: key.slice(0, 12) }))
  sweeper.start()
  const repo = new LogRepository({
    log: recordLog,
    time: o.time,
    tombstoneMs: Math.max(config.liveTtlMs, config.retentionMs),
    mayPurge: o.mayPurge,
  })

  return {
    recordLog,
    files,
    repo,
    disk,
    failed,
    startOver,
    onProblem(next) {
      listener = next
      if (problem) next(problem)
    },
    signals: () => ({
      readStalledMs: recordLog.readStalledMs(),
      writeStalledMs: recordLog.writeStalledMs(),
      writeError: recordLog.writeError(),
      disk: disk.state,
      dataDir: dir,
      storeFailure: recordLog.failure() ?? outOfUse,
    }),
  }
}
