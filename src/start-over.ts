/**
 * A node that starts over from its peers: its store is set aside and its log pointer removed,
 * so that its next start copies the cluster's log from its peers, as a new writer of it, with
 * its node-id, files and known members kept. What an operator is told to do for a store that
 * lost writes its peers hold (store/own-writer.ts); done by the node once it has found its own.
 *
 * Asked for while the store is open (`markStartOver`) and done at the next start, before the
 * store opens (`startOverIfAsked`): a marker file in between, so that a node killed between
 * the two still starts over. The store is moved aside, not deleted: its peers hold all it held
 * (they hold more of this node's own writes than it does), but a wrong verdict must not cost
 * data, and an operator can delete it once the node is back.
 */
import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Clock } from './clock.ts'
import type { Logger } from './logger.ts'

const MARKER = 'start-over.json'

export interface StartOverReason {
  /** Why, in words for the log. */
  why: string
  /** When it was asked for (ms since the epoch). */
  at: number
}

/** Asks the next start of the node in `dir` to start over from its peers. */
export async function markStartOver(dir: string, reason: StartOverReason): Promise<void> {
  const path = join(dir, MARKER)
  await writeFile(`${path}.tmp`, JSON.stringify(reason) + '\n')
  await rename(`${path}.tmp`, path)
}

export interface StartedOver extends StartOverReason {
  /** Where the old store is now. */
  setAside: string
}

/**
 * If the node in `dir` was asked to start over: sets its store aside (`store.set-aside-<time>`)
 * and removes its log pointer, and says so. Null when it was not asked.
 */
export async function startOverIfAsked(dir: string, log: Logger): Promise<StartedOver | null> {
  const path = join(dir, MARKER)
  let reason: StartOverReason
  try {
    reason = JSON.parse(await readFile(path, 'utf8')) as StartOverReason
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    // Half a marker (a crash while writing it is ruled out by the rename): asked all the same.
    reason = { why: 'asked by an unreadable start-over.json', at: Date.now() }
  }
  const stamp = new Date(Number(reason.at) || Date.now()).toISOString().replace(/[:.]/g, '-')
  const setAside = join(dir, `store.set-aside-${stamp}`)
  await rename(join(dir, 'store'), setAside).catch((err: NodeJS.ErrnoException) => {
    // Set aside already by a start that died before it removed the marker.
    if (err.code !== 'ENOENT') throw err
  })
  await rm(join(dir, 'log.json'), { force: true })
  await rm(path, { force: true })
  const why = String(reason.why)
  log.warn('started-over', {
    why,
    setAside,
    message: `the store was set aside and the log is copied from the peers (node-id and files kept); delete ${setAside} once the node is back`,
  })
  return { why, at: Number(reason.at), setAside }
}

export interface BehindOptions {
  dir: string
  clock: Pick<Clock, 'now'>
  log: Logger
  /** Stops the node's use of its store (the runner then starts the node again). */
  stop: (err: Error) => void
}

/**
 * What a node does once its store is found to lack writes of its own that its peers hold
 * (store/own-writer.ts `onBehind`): says so, asks its next start to start over, and stops
 * using the store, so that the runner starts it again (node-runner.ts).
 */
export function startOverWhenBehind(o: BehindOptions): (have: number, held: number) => void {
  return (have, held) => {
    const why = `its store holds ${have} blocks of its own log writer and its peers ${held}`
    o.log.error('own-writer-behind', {
      have,
      held,
      message:
        "this node's store lost writes of its own that its peers hold (a data directory put back from an older copy, or a power cut): it writes nothing more to it, sets it aside and starts again, copying the log from its peers",
    })
    markStartOver(o.dir, { why, at: o.clock.now() }).then(
      () => o.stop(new Error(`${why}: it starts over from its peers`)),
      (err: Error) => {
        o.log.error('start-over-failed', {
          error: err.message,
          message: `could not ask for a start over in ${o.dir}: stop the node, set its store/ aside, delete its log.json (keep node-id) and start it again`,
        })
        o.stop(new Error(`${why}, and asking for a start over failed: ${err.message}`))
      },
    )
  }
}
