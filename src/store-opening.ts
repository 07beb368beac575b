/**
 * What a node says of a store that does not open: one copied or put back from elsewhere, which
 * hypercore-storage refuses, and one whose open never ends (a store restored from an older copy
 * of this node's, whose own writer is behind what its peers hold: a trial saw autobase wait for
 * a block of it for good, the node answering 503 "starting" without a line).
 */
import { join } from 'node:path'
import type { Clock } from './clock.ts'
import type { Logger } from './logger.ts'

/** An open of the store that takes longer than this is told, with what to do. */
export const STORE_OPEN_SLOW_MS = 30_000

/** What to do with a store that must not be used as it is: its peers hold the log. */
const startOver = (dir: string) =>
  `delete ${join(dir, 'store')} and ${join(dir, 'log.json')}, keeping node-id, or node-id too for a new member: README, "Backups, snapshots and copies"`

/** Why the store in `dir` did not open; a store copied or put back says what to do instead. */
export function cannotOpen(dir: string, err: Error & { code?: unknown }): Error {
  // hypercore-storage's guard against a store copied or restored (device-file).
  const copied =
    err.code === 'DEVICE_FILE' || /^Invalid device file/.test(err.message)
      ? ` (this store was copied, moved or restored from elsewhere, which a store must not be; to have the node copy the log from its peers instead, ${startOver(dir)})`
      : ''
  return new Error(`cannot open the store in ${dir}: ${err.message}${copied}`)
}

/** `opening`, told as `WARN store-open-slow` if it takes over `STORE_OPEN_SLOW_MS`. */
export async function toldIfSlow<T>(
  opening: Promise<T>,
  o: { dir: string; clock: Clock; log: Logger },
): Promise<T> {
  const slow = o.clock.setTimeout(
    () =>
      o.log.warn('store-open-slow', {
        dir: o.dir,
        waitedMs: STORE_OPEN_SLOW_MS,
        message: `the store in ${o.dir} has not opened in ${STORE_OPEN_SLOW_MS / 1000} s: if this directory was restored from a backup or snapshot, or copied from another node's, its log is behind what the cluster holds of it; stop the node, ${startOver(o.dir)}, and start it: it copies the log back from its peers`,
      }),
    STORE_OPEN_SLOW_MS,
  )
  try {
    return await opening
  } finally {
    o.clock.clearTimeout(slow)
  }
}
