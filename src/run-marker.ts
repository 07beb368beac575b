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
  startedAt: number
  aliveAt: number
}

export interface RunMarker {
  /** Resolves once the marker's writes so far are through (tests). */
  written(): Promise<void>
  /** Removes the marker: this run stopped cleanly. Safe to call twice. */
  stop(): Promise<void>
}

/**
 * Says so (`WARN unclean-stop`) if the last run in `dataDir` did not stop cleanly, then marks
 * this one. A marker that cannot be read or written is logged, never fatal: the node starts
 * all the same (a full disk is a `disk-low` matter of its own).
 */
export async function markRun(o: RunMarkerOptions): Promise<RunMarker> {
  const path = join(o.dataDir, 'running.json')
  const last = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) =>
    err.code === 'ENOENT' ? null : err,
  )
  if (last !== null) o.log.warn('unclean-stop', uncleanFields(last))
  const run: Run = { pid: o.pid ?? process.pid, startedAt: o.clock.now(), aliveAt: o.clock.now() }
  let told = false
  let writing = Promise.resolve()
  const write = () => {
    run.aliveAt = o.clock.now()
    const tmp = `${path}.tmp`
    // Written aside and renamed, so a run killed while writing leaves a whole marker.
    writing = writing
      .then(() => writeFile(tmp, JSON.stringify(run) + '\n'))
      .then(() => rename(tmp, path))
      .catch((err: Error) => {
        if (told) return
        told = true
        o.log.warn('run-marker-failed', {
          path,
          error: err.message,
          message:
            'could not mark this node as running in its data directory: if it is killed, its next start will not say so',
        })
      })
    return writing
  }
  await write()
  const timer: Timer = o.clock.setInterval(() => void write(), ALIVE_EVERY_MS)
  let stopped: Promise<void> | null = null
  return {
    written: () => writing,
    stop: () =>
      (stopped ??= (async () => {
        o.clock.clearInterval(timer)
        await writing
        await rm(path, { force: true })
      })()),
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
    return numbers.every((n) => typeof n === 'number' && Number.isFinite(n)) ? (run as Run) : null
  } catch {
    return null
  }
}
