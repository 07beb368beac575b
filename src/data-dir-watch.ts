/**
 * Whether the node's data directory is still the one it opened. A directory deleted under a
 * running node (an operator's `rm -rf`, a cleanup script, a volume unmounted) left the node
 * serving from what it held open: `/healthz` said ok for two minutes while every worker
 * failed on its file and started again from 0 %, until RocksDB happened to open a new file
 * (a trial). Looked at once a second: gone, or another directory in its place, the node's
 * store has failed, and the runner starts the node again on the path (node-runner.ts).
 */
import { stat } from 'node:fs/promises'
import { statSync } from 'node:fs'
import type { Clock } from './clock.ts'

export const DATA_DIR_CHECK_MS = 1000

/**
 * Calls `gone` once, with how, when `dir` no longer exists or is another directory than the
 * one there now. Returns the stop. A look that fails otherwise (EACCES, EIO) says nothing:
 * the store's own failures tell those.
 */
export function watchDataDir(
  dir: string,
  clock: Clock,
  gone: (how: 'deleted' | 'replaced') => void,
): () => void {
  const { dev, ino } = statSync(dir)
  let looking = false
  let stopped = false
  const stop = () => {
    stopped = true
    clock.clearInterval(timer)
  }
  const timer = clock.setInterval(() => {
    if (looking || stopped) return
    looking = true
    stat(dir)
      .then(
        (now) => (now.dev !== dev || now.ino !== ino ? 'replaced' : null),
        (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? 'deleted' : null),
      )
      .then((how) => {
        looking = false
        if (how === null || stopped) return
        stop()
        gone(how)
      })
  }, DATA_DIR_CHECK_MS)
  return stop
}
