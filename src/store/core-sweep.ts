/**
 * Gets disk back. Autobase deletes nothing, and clearing blocks leaves RocksDB's files as they
 * were; so, once this node has moved to another log (a compaction, an adoption) and from time
 * to time, it deletes from its corestore every core it no longer needs, then compacts RocksDB
 * so the files shrink.
 *
 * Kept: every core in use in this process (the log this node is on, its files, a peer's file
 * being served), every writer of the log this node is on (autobase closes an idle
 * non-indexer's core and opens it again when it wakes), and the file cores that a record still
 * points to. Everything else is a core of a log this node has left, or of files every record
 * of which is gone. A core deleted that a peer asks for again is simply fetched again.
 *
 * A core nobody here uses any more stays open as long as a peer replicates it, and the peer
 * keeps it for the same reason: after a move, the old log's cores would stay open on every
 * node for as long as the connections last. So the sweep hands such a core to corestore's own
 * idle collection, which closes it some seconds later unless it is used again meanwhile; the
 * next sweep deletes it. But a peer that opens a channel for the core (corestore's
 * `_attachMaybe`, when the peer's replicator attaches it again) resets that countdown, and two
 * nodes can keep doing it to each other for as long as both hold the core: a soak found 9 and
 * 7 cores of old logs open at rest, handed over afresh at every sweep. So a core found so at
 * two sweeps in a row (`lingering`) is closed by the sweep itself and deleted at once, and a
 * peer that asks for it then finds nothing to reopen.
 *
 * Measured (../shared/STACK.md): hypercore-storage's `deleteCore` removes a core's entry and
 * its sessions' data but not its own data range; that range is deleted here as well, else the
 * blocks and tree nodes stay on disk for ever.
 */
import Hypercore from 'hypercore'
import type Corestore from 'corestore'
import type { CoreEntry } from 'corestore'
import keys from 'hypercore-storage/lib/keys.js'
import type { Clock, Timer } from '../clock.ts'

export interface SweepResult {
  /** Cores deleted. */
  deleted: number
  /** Cores no longer needed, still open: corestore closes them some seconds later. */
  closing: number
  /**
   * Of those, how many have their close under way already (corestore's countdown is over):
   * one that stays so from sweep to sweep is a close that does not finish, not a countdown.
   */
  closeStarted: number
  /** Cores left in the store. */
  kept: number
  ms: number
  /** The ids (hex discovery keys) of the cores closing: the next sweep's `lingering`. */
  closingIds?: string[]
}

/** A sweep, and how long the store had not been written to when it started. */
export interface SweptResult extends SweepResult {
  /** Null: nothing written since the sweeper started. */
  idleMs: number | null
}

/** How long the sweep waits for a lingering core to close (its channels' handlers to end). */
const CLOSE_WAIT_MS = 5000

/**
 * Deletes every stored core that is not open here and not in `keep` (hex core keys), then
 * compacts the store. `lingering`: the cores the last sweep found closing (its `closingIds`);
 * one still open and unused now is closed here and deleted.
 */
export async function sweepCores(
  store: Corestore,
  keep: Iterable<string>,
  lingering: ReadonlySet<string> = new Set(),
): Promise<SweepResult> {
  const started = Date.now()
  const kept = new Set<string>()
  for (const key of keep) {
    kept.add(Hypercore.discoveryKey(Buffer.from(key, 'hex')).toString('hex'))
  }
  const { storage } = store
  const doomed = []
  const reclaim = []
  const closingIds: string[] = []
  let total = 0
  let closeStarted = 0
  for await (const { discoveryKey, core } of storage.createCoreStream()) {
    total++
    const id = discoveryKey.toString('hex')
    if (kept.has(id)) continue
    const open = store.cores.map.get(id)
    if (!open) doomed.push({ id, core })
    else if (open.hasSession()) continue
    else if (lingering.has(id)) reclaim.push({ id, core, open })
    else {
      // Already handed over: collecting it again would start its countdown afresh.
      if (!open.gc) store.cores.gc(open)
      closingIds.push(id)
      if (open.closing) closeStarted++
    }
  }
  let deleted = 0
  for (const { id, core } of doomed) {
    // Opened meanwhile (a peer asked for it): it is in use after all.
    if (store.cores.map.has(id)) continue
    await deleteCore(store, core)
    deleted++
  }
  for (const { id, core, open } of reclaim) {
    if (!(await closeLingering(store, id, open))) {
      closingIds.push(id)
      if (open.closing) closeStarted++
      continue
    }
    await deleteCore(store, core)
    deleted++
  }
  await storage.compact()
  return {
    deleted,
    closing: closingIds.length,
    closeStarted,
    kept: total - deleted,
    ms: Date.now() - started,
    closingIds,
  }
}

type OpenCore = NonNullable<ReturnType<Corestore['cores']['map']['get']>>

/**
 * Closes a core no session uses, as corestore's idle collection does (and takes it out of the
 * store's map as that does): true once it is closed and no one opened it again meanwhile.
 */
async function closeLingering(store: Corestore, id: string, open: OpenCore): Promise<boolean> {
  if (open.hasSession()) return false
  let timer: NodeJS.Timeout | undefined
  const closed = await Promise.race([
    open.close().then(
      () => true,
      () => false,
    ),
    new Promise<false>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS, false))),
  ])
  clearTimeout(timer)
  if (!closed) return false
  if (store.cores.map.get(id) === open) store.cores.map.delete(id)
  // A peer's request opened it again while it closed: it is in use after all.
  return !store.cores.map.has(id)
}

/**
 * Deletes a core from the store: its entry and its sessions' data (hypercore-storage's
 * `deleteCore`), and its own data range, which that leaves behind.
 */
async function deleteCore(store: Corestore, core: CoreEntry): Promise<void> {
  const { storage } = store
  await storage.deleteCore(core)
  const tx = storage.db.write({ autoDestroy: true })
  tx.tryDeleteRange(keys.core.data(core.dataPointer), keys.core.data(core.dataPointer + 1))
  await tx.flush()
}

export interface SweeperOptions {
  store: Corestore
  /** The hex keys of the cores to keep beside those open. */
  keep: () => Iterable<string>
  /** Whether it is safe to sweep now (the pointer names the log this node is on). */
  settled: () => boolean
  /**
   * How long after a move the sweep waits, for the cores left behind to close; while some are
   * still open it sweeps again as often, for a minute. @default 30000
   */
  afterMoveMs?: number
  /** How often it sweeps anyway, for the files of purged downloads. @default 3600000 */
  intervalMs?: number
  /**
   * Once the store was written to since the last sweep, a quiet spell this long sweeps: the disk
   * of a busy hour comes back a minute after it ends, not at the next hourly sweep.
   * @default 60000
   */
  quietMs?: number
  clock: Clock
  /** Before a sweep starts (to measure the disk, for instance). */
  onStart?: () => Promise<void>
  onSwept: (result: SweptResult) => void | Promise<void>
  onError: (err: Error) => void
  /** What a sweep does (tests pass their own). @default sweepCores */
  sweep?: typeof sweepCores
}

/**
 * For this long after a move the sweep comes back every `afterMoveMs` for cores still closing;
 * after that at twice the last wait each time (up to the interval), for as long as some are.
 */
const FOLLOW_UP_MS = 60_000

/**
 * When to sweep: a while after each move, once a busy spell is over, and every interval. One
 * sweep at a time.
 */
export class Sweeper {
  private timer: Timer | null = null
  /** When the pending timer fires. */
  private dueAt = Infinity
  private running: Promise<void> | null = null
  private stopped = false
  /** A sweep came due while one was running: it runs once that one ends. */
  private again = false
  /** Since when cores left behind may still be closing. */
  private movedAt = -Infinity
  /** The store was written to since the last sweep started, last at `wroteAt`. */
  private dirty = false
  private wroteAt = -Infinity
  private quietTimer: Timer | null = null
  /** The wait before the last follow-up for cores still closing (0: none pending). */
  private followUpMs = 0
  /** The cores the last sweep found closing: the next closes those still open itself. */
  private lingering: ReadonlySet<string> = new Set()

  constructor(private readonly o: SweeperOptions) {}

  /**
   * Sweeps after the delay that lets a log this node left close its cores. A sweep already due
   * by then stays as it is: moves every few seconds (a low --log-compact-ops) must not put
   * every sweep off (the soak saw three in six minutes); the cores of the latest move are
   * handed over then and deleted by the follow-up.
   */
  soon(): void {
    this.movedAt = this.o.clock.now()
    this.schedule(this.afterMoveMs)
  }

  /**
   * The store was written to (a record merged, a file kept): a sweep once it has been quiet for
   * `quietMs`. Called for every write, so it only notes the time; one timer looks again when
   * the spell could have ended.
   */
  wrote(): void {
    this.dirty = true
    this.wroteAt = this.o.clock.now()
    if (!this.quietTimer && !this.stopped) this.checkQuiet(this.quietMs)
  }

  private get quietMs(): number {
    return this.o.quietMs ?? 60_000
  }

  private checkQuiet(ms: number): void {
    this.quietTimer = this.o.clock.setTimeout(() => {
      this.quietTimer = null
      if (!this.dirty) return
      const quietFor = this.o.clock.now() - this.wroteAt
      if (quietFor < this.quietMs) this.checkQuiet(this.quietMs - quietFor)
      else void this.run()
    }, ms)
  }

  private get afterMoveMs(): number {
    return this.o.afterMoveMs ?? 30_000
  }

  start(): void {
    this.soon()
  }

  /** A sweep within `ms`: one due sooner stays as it is. */
  private schedule(ms: number): void {
    if (this.stopped) return
    if (this.timer && this.dueAt <= this.o.clock.now() + ms) return
    if (this.timer) this.o.clock.clearTimeout(this.timer)
    this.dueAt = this.o.clock.now() + ms
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = null
      this.dueAt = Infinity
      void this.run()
    }, ms)
  }

  /** Sweeps now unless one is running or a move is under way (then shortly after it). */
  run(): Promise<void> {
    if (this.stopped) return Promise.resolve()
    if (this.running) {
      this.again = true
      return this.running
    }
    if (!this.o.settled()) {
      this.soon()
      return Promise.resolve()
    }
    let next = this.o.intervalMs ?? 3_600_000
    this.dirty = false
    const idleMs = this.wroteAt === -Infinity ? null : this.o.clock.now() - this.wroteAt
    this.running = Promise.resolve(this.o.onStart?.())
      .then(() => (this.o.sweep ?? sweepCores)(this.o.store, this.o.keep(), this.lingering))
      .then((result) => {
        this.lingering = new Set(result.closingIds)
        if (result.closing === 0) this.followUpMs = 0
        else {
          // Cores of a log left behind can stay open past the minute (the soak saw two still
          // closing 67 s after its cluster's last move, and then no sweep for the hour, while
          // it waited for rest): they are looked at again, less and less often.
          const following = this.o.clock.now() - this.movedAt < FOLLOW_UP_MS
          this.followUpMs = following
            ? this.afterMoveMs
            : Math.max(this.afterMoveMs, this.followUpMs * 2)
          next = Math.min(next, this.followUpMs)
        }
        return this.o.onSwept({ ...result, idleMs })
      })
      .catch(this.o.onError)
      .finally(() => {
        this.running = null
        if (this.again) next = 0
        this.again = false
        this.schedule(next)
      })
    return this.running
  }

  /** Waits for a sweep in progress: the store must not close under it. */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) this.o.clock.clearTimeout(this.timer)
    if (this.quietTimer) this.o.clock.clearTimeout(this.quietTimer)
    await this.running
  }
}
