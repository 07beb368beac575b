/**
 * The run marker: a file in the data directory that says a node runs there, removed when it
 * stops cleanly. One found at start is a run that ended otherwise (SIGKILL, the kernel's
 * out-of-memory killer, a crash, a machine that went down), which a node said nothing of: an
 * operator looking at a restarted node could not tell a clean restart from one after a kill.
 * It is rewritten every half minute, so it also says when that run was last alive.
 */
import { renameSync, writeFileSync } from 'node:fs'
import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Clock, Timer } from './clock.ts'
import type { Logger } from './logger.ts'
import { nanoid } from 'nanoid'

/** How often the marker says the node is still alive. */
const ALIVE_EVERY_MS = 30_000

export interface RunMarkerOptions {
  dataDir: string
  clock: Clock
  log: Logger
  /** @default process.pid */
  pid?: number
}

/** What a run's marker says of it. */
interface Run {
  pid: number
  /** This run's own, told apart from a later run in the same process (node-runner.ts). */
  run: string
  startedAt: number
  aliveAt: number
  /** When its stop began: a marker left with it is a stop that did not finish. */
  stoppingAt?: number
}

export class RunMarker {
  private readonly path: string
  private readonly run: Run
  private timer: Timer | null = null
  private writing = Promise.resolve()
  private told = false
  private removing: Promise<void> | null = null

  constructor(private readonly o: RunMarkerOptions) {
    this.path = join(o.dataDir, 'running.json')
    const now = o.clock.now()
    this.run = { pid: o.pid ?? process.pid, run: nanoid(10), startedAt: now, aliveAt: now }
  }

  /**
   * Says so (`WARN unclean-stop`) if the last run in the data directory did not stop cleanly,
   * with the downloads `held` names (the ids its store says it ran; their progress is in the
   * takeover lines, its store's copy lags the worker's), then marks this one. Only once this node holds the directory (its store's lock): a node
   * refused a directory in use must neither read the running node's marker as a dead run's nor
   * replace it. A marker that cannot be read or written is logged, never fatal: the node starts
   * all the same (a full disk is a `disk-low` matter of its own).
   */
  async start(held: () => string[] = () => []): Promise<void> {
    const last = await readFile(this.path, 'utf8').catch((err: NodeJS.ErrnoException) =>
      err.code === 'ENOENT' ? null : err,
    )
    if (last !== null) {
      // What it was making, as its own store last knew: the ids to find in the takeover lines.
      const downloads = held()
      this.o.log.warn('unclean-stop', {
        ...uncleanFields(last, this.run.pid),
        downloads: downloads.length > 0 ? downloads.join(',') : 'none',
      })
      // Told once: if this run's own marker cannot be written (a full disk), the old one would
      // be told again at every start.
      await rm(this.path, { force: true }).catch(() => {})
    }
    await this.write()
    this.timer = this.o.clock.setInterval(() => void this.write(), ALIVE_EVERY_MS)
  }

  /**
   * The stop begins (first thing, before any part closes): a stop that does not finish, cut
   * short by its time limit (main.ts) or a kill, is then told as such at the next start, not as
   * a run that was killed while it worked. Written at once, synchronously: the limit may end the
   * process at any moment from here.
   */
  stopping(): void {
    if (this.timer === null || this.run.stoppingAt !== undefined) return
    this.run.stoppingAt = this.o.clock.now()
    try {
      writeFileSync(`${this.path}.tmp`, JSON.stringify(this.run) + '\n')
      renameSync(`${this.path}.tmp`, this.path)
    } catch {
      // Told by write() already, if the disk refuses it.
    }
  }

  /** Resolves once the marker's writes so far are through (tests). */
  written(): Promise<void> {
    return this.writing
  }

  /** Removes this run's marker: it stopped cleanly. Safe to call twice, and before `start`. */
  stop(): Promise<void> {
    this.removing ??= (async () => {
      if (this.timer === null) return
      this.o.clock.clearInterval(this.timer)
      await this.writing
      // Another node may hold the directory by now (this one's store is closed): its marker stays.
      const text = await readFile(this.path, 'utf8').catch(() => null)
      if (text === null || parseRun(text)?.run !== this.run.run) return
      await rm(this.path, { force: true }).catch((err: Error) =>
        this.o.log.warn('run-marker-failed', {
          path: this.path,
          error: err.message,
          message: 'could not remove the run marker: the next start will take this stop for a kill',
        }),
      )
    })()
    return this.removing
  }

  private write(): Promise<void> {
    this.run.aliveAt = this.o.clock.now()
    const tmp = `${this.path}.tmp`
    // Written aside and renamed, so a run killed while writing leaves a whole marker.
    this.writing = this.writing
      .then(() => writeFile(tmp, JSON.stringify(this.run) + '\n'))
      .then(() => rename(tmp, this.path))
      .catch((err: Error) => {
        if (this.told) return
        this.told = true
        this.o.log.warn('run-marker-failed', {
          path: this.path,
          error: err.message,
          message:
            'could not mark this node as running in its data directory: if it is killed, its next start will not say so',
        })
      })
    return this.writing
  }
}

/**
 * The `unclean-stop` line's fields for what the last run's marker held (or why it could not be
 * read); `pid` is this run's.
 */
function uncleanFields(last: string | Error, pid: number): Record<string, string | number> {
  const killed =
    'it was killed (SIGKILL, out of memory), crashed, or its machine went down; its lines up to then may say why'
  const run = last instanceof Error ? null : parseRun(last)
  if (!run) {
    return {
      message: `the last run of this node did not stop cleanly: ${killed}`,
      ...(last instanceof Error && { error: last.message }),
    }
  }
  const at = (ms: number) => new Date(ms).toISOString()
  const which =
    run.pid === pid
      ? `an earlier start in this same process (pid ${pid}, up since ${at(run.startedAt)}), restarted after its store failed,`
      : `the last run of this node (pid ${run.pid}, up since ${at(run.startedAt)})`
  const how =
    run.stoppingAt !== undefined
      ? `began to stop at ${at(run.stoppingAt)} but did not finish: its stop took longer than allowed (its last lines say stop-timed-out), or it was killed while stopping`
      : `did not stop cleanly: ${killed}; it was last known alive at ${at(run.aliveAt)}, within ${ALIVE_EVERY_MS / 1000} s of its end`
  return {
    pid: run.pid,
    startedAt: at(run.startedAt),
    aliveAt: at(run.aliveAt),
    ...(run.stoppingAt !== undefined && { stoppingAt: at(run.stoppingAt) }),
    message: `${which} ${how}; the downloads it was making are the other members' to take over from their last checkpoint (their lines say takeover)`,
  }
}

function parseRun(text: string): Run | null {
  try {
    const run = JSON.parse(text) as Partial<Run>
    const numbers = [run.pid, run.startedAt, run.aliveAt]
    const whole = numbers.every((n) => typeof n === 'number' && Number.isFinite(n))
    const stopping = run.stoppingAt === undefined || Number.isFinite(run.stoppingAt)
    return whole && stopping && typeof run.run === 'string' ? (run as Run) : null
  } catch {
    return null
  }
}
