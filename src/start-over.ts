/**
 * A node that starts over from its peers: its store is set aside and its log pointer removed,
 * so that its next start copies the cluster's log from its peers, as a new writer of it. Done
 * for a store that lost writes its peers hold (store/own-writer.ts), with the node's id, files
 * and known members kept: what an operator is told to do, done by the node once it has found
 * its own. And for a twin (cluster/twin.ts), as a new member: its `node-id` and known members
 * go aside too, and it makes itself a new id.
 *
 * Asked for while the store is open (`startingOver`) and done at the next start, before the
 * identity is read and the store opens (`startOverIfAsked`): a marker file in between, so that a
 * node killed between the two still starts over. What goes aside is moved, not deleted: its
 * peers hold all the store held, but a wrong verdict must not cost data, and an operator can
 * delete it once the node is back.
 */
import { renameSync, writeFileSync } from 'node:fs'
import { mkdir, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Clock } from './clock.ts'
import type { Logger } from './logger.ts'

const MARKER = 'start-over.json'
/** What a new member leaves aside besides its store: the identity it gives up, and whom it knew. */
const IDENTITY_FILES = ['node-id', 'members.json']

export interface StartOverReason {
  /** Why, in words for the log. */
  why: string
  /** As a new member: with a new node-id. */
  newIdentity?: boolean
}

/**
 * How a node asks to start over while it runs: writes the marker, then stops using its store
 * (`stop`), so that the runner starts it again (node-runner.ts), and that start starts over.
 * A marker that cannot be written leaves the node as it is, with what to do by hand: started
 * again without it, it would find the same fault and stop again, for ever. Not synced: a power
 * cut that loses the marker loses nothing else, and the next start finds the fault again.
 */
export function startingOver(o: {
  dir: string
  clock: Pick<Clock, 'now'>
  log: Logger
  stop: (err: Error) => void
}): (reason: StartOverReason) => void {
  let asked = false
  return (reason) => {
    if (asked) return
    asked = true
    const path = join(o.dir, MARKER)
    // Written at once, before the store can fail on its own (a writer in conflict is closed
    // by hypercore right after it says so) and the runner start it again without the marker.
    try {
      writeFileSync(`${path}.tmp`, JSON.stringify({ ...reason, at: o.clock.now() }) + '\n')
      renameSync(`${path}.tmp`, path)
    } catch (err) {
      return o.log.error('start-over-failed', {
        error: (err as Error).message,
        message: `could not ask for a start over in ${o.dir} (${reason.why}): stop the node, move its store/ aside, delete its log.json${reason.newIdentity ? ' and node-id' : ' (keep node-id)'} and start it again`,
      })
    }
    o.stop(new Error(`${reason.why}: it starts over`))
  }
}

/** The line a node says when its store is found behind its peers, and its start over. */
export function startOverWhenBehind(
  log: Logger,
  startOver: (reason: StartOverReason) => void,
): (have: number, held: number) => void {
  return (have, held) => {
    log.error('own-writer-behind', {
      have,
      held,
      message:
        "this node's store lost writes of its own that its peers hold (a data directory put back from an older copy, or a power cut): it writes nothing more to it, sets it aside and starts again, copying the log from its peers",
    })
    startOver({ why: `its store holds ${have} blocks of its own log writer and its peers ${held}` })
  }
}

export interface StartedOver {
  why: string
  newIdentity: boolean
  /** Where what was set aside is now. */
  setAside: string
}

/**
 * If the node in `dir` was asked to start over: moves its store (and, for a new identity, its
 * node-id and known members) to `store.set-aside-<time>`, removes its log pointer, and says
 * so. Null when it was not asked.
 */
export async function startOverIfAsked(dir: string, log: Logger): Promise<StartedOver | null> {
  const path = join(dir, MARKER)
  let reason: Partial<StartOverReason & { at: number }>
  try {
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'))
    reason = typeof parsed === 'object' && parsed !== null ? parsed : {}
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    // Written aside and renamed, so never half a marker; unreadable all the same: asked.
    reason = {}
  }
  const at = Number(reason.at) || Date.now()
  const setAside = join(dir, `store.set-aside-${new Date(at).toISOString().replace(/[:.]/g, '-')}`)
  // Moved already by a start that died before it removed the marker: each is moved if there.
  let moved = await moveIfThere(join(dir, 'store'), setAside)
  const newIdentity = reason.newIdentity === true
  if (newIdentity) {
    await mkdir(setAside, { recursive: true })
    for (const name of IDENTITY_FILES)
      moved = (await moveIfThere(join(dir, name), join(setAside, name))) || moved
  }
  await rm(join(dir, 'log.json'), { force: true })
  await rm(path, { recursive: true, force: true })
  const why = typeof reason.why === 'string' ? reason.why : `asked by ${MARKER}`
  log.warn('started-over', {
    why,
    ...(moved && { setAside }),
    ...(newIdentity && { newIdentity }),
    message:
      `the log is copied from the peers${newIdentity ? ' as a new member, with a new node-id' : ', node-id and files directory kept'}` +
      (moved
        ? `; what was set aside (its store${newIdentity ? ', node-id and known members' : ', with the files of downloads made before v8'}) is in ${setAside}: delete it once the node is back`
        : ''),
  })
  return { why, newIdentity, setAside }
}

/** Whether there was something to move. */
async function moveIfThere(from: string, to: string): Promise<boolean> {
  return rename(from, to).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err
      return false
    },
  )
}
