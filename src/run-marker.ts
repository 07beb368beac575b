/**
 * The run marker: a file in the data directory that says a node runs there, removed when it
 * stops cleanly. One found at start is a run that ended otherwise (SIGKILL, the kernel's
 * out-of-memory killer, a crash, a machine that went down), which a node said nothing of: an
 * operator looking at a restarted node could not tell a clean restart from one after a kill.
 * It is rewritten every half minute, so it also says when that run was last alive.
 */
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
}

export class RunMarker {
  private readonly path: string
  private readonly run: Run
  private timer: Timer | null = null
  private writing = Promise.resolve()
  private told = false
  private stopping: Promise<void> | null = null

  constructor(private readonly o: RunMarkerOptions) {
    this.path = join(o.dataDir, 'running.json')
    const now = o.clock.now()
    this.run = { pid: o.pid ?? process.pid, run: nanoid(10), startedAt: now, aliveAt: now }
  }

  /**
   * Says so (`WARN unclean-stop`) if the last run in the data directory did not stop cleanly,
   * then marks this one. Only once this node holds the directory (its store's lock): a node
   * refused a directory in use must neither read the running node's marker as a dead run's nor
   * replace it. A marker that cannot be read or written is logged, never fatal: the node starts
   * all the same (a full disk is a `disk-low` matter of its own).
   */
  async start(): Promise<void> {
    const last = await readFile(this.path, 'utf8').catch((err: NodeJS.ErrnoException) =>
      err.code === 'ENOENT' ? null : err,
    )
    if (last !== null) this.o.log.warn('unclean-stop', uncleanFields(last))
    await this.write()
    this.timer = this.o.clock.setInterval(() => void this.write(), ALIVE_EVERY_MS)
  }

  /** Resolves once the marker's writes so far are through (tests). */
  written(): Promise<void> {
    return this.writing
  }

  /** Removes this run's marker: it stopped cleanly. Safe to call twice, and before `start`. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.timer === null) return
      this.o.clock.clearInterval(this.timer)
      await this.writing
      // Another node may hold the directory by now (this one's store is closed): its marker stays.
      const text = await readFile(this.path, 'utf8').catch(() => null)
      if (text !== null && parseRun(text)?.run === this.run.run)
        await rm(this.path, { force: true })
    })()
    return this.stopping
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

/** The `unclean-stop` line's fields for what the last run's marker held (or why it could not be read). */
function uncleanFields(last: string | Error): Record<string, string | number> {
  const what =
    'killed (SIGKILL, out of memory), crashed, or its machine went down; its lines up to then may say why'
  const run = last instanceof Error ? null : parseRun(last)
  if (!run) {
    return {
      message: `the last run of this node did not stop cleanly: it was ${what}`,
      ...(last instanceof Error && { error: last.message }),
    }
  }
  const at = (ms: number) => new Date(ms).toISOString()
  return {
    pid: run.pid,
    startedAt: at(run.startedAt),
    aliveAt: at(run.aliveAt),
    message: `the last run of this node (pid ${run.pid}, up since ${at(run.startedAt)}) did not stop cleanly: it was ${what}; it was last known alive at ${at(run.aliveAt)}, within ${ALIVE_EVERY_MS / 1000} s of its end; the downloads it was making were resumed by the other members, if any were up, from their last checkpoint`,
  }
}

function parseRun(text: string): Run | null {
  try {
    const run = JSON.parse(text) as Partial<Run>
    const numbers = [run.pid, run.startedAt, run.aliveAt]
    const whole = numbers.every((n) => typeof n === 'number' && Number.isFinite(n))
    return whole && typeof run.run === 'string' ? (run as Run) : null
  } catch {
    return null
  }
}
