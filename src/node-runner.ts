/**
 * Keeps a node up when its store fails. A write that does not reach the disk (a disk filled
 * faster than the reserve check could see, an I/O error) makes autobase close itself for good,
 * and RocksDB stays read-only until it is opened again; so the runner closes the node and
 * starts it again in this process, on the same data directory and port, as soon as the disk
 * has room, backing off while it cannot. To the cluster this is a restart (rejoin.ts): its
 * downloads are taken over from their checkpoints meanwhile, or it takes them back.
 *
 * This is what a process supervisor would do, done where a node runs without one
 * (`npm run node`, the launcher).
 */
import type { Config } from './config.ts'
import { sleep, systemClock } from './clock.ts'
import { freeBytes } from './disk-space.ts'
import { bugFields, createLogger } from './logger.ts'
import { startNode, type NodeDeps, type RunningNode } from './node.ts'

export interface RunnerOptions {
  /** The first wait between two attempts to start again; it doubles up to `maxBackoffMs`. */
  backoffMs?: number
  /** @default 30000 */
  maxBackoffMs?: number
  /** Tests: how a node is started. @default startNode */
  start?: typeof startNode
  /** A failed node that takes longer than this to close is left behind. @default 10000 */
  closeTimeoutMs?: number
  /**
   * Failed starts after which the runner gives up: it says so and calls `onGiveUp`, so the
   * process can exit for an outside supervisor to restart it. @default 20
   */
  maxAttempts?: number
  onGiveUp?: () => void
  /** Called with the node once it has started, and again after every restart. */
  onStarted?: (node: RunningNode) => void
}

export interface NodeRunner {
  /** The node running now: a restart replaces it; null while it is down. */
  readonly node: RunningNode | null
  /** How many times the node was started again after its store failed. */
  readonly restarts: number
  /** Stops the node (and any restart under way). Safe to call twice. */
  close(): Promise<void>
}

/** Starts a node (throws as `startNode` does) and keeps it running through store failures. */
export async function runNode(
  config: Config,
  deps: NodeDeps = {},
  {
    backoffMs = 1000,
    maxBackoffMs = 30_000,
    start = startNode,
    closeTimeoutMs = 10_000,
    maxAttempts = 20,
    onGiveUp = () => {},
    onStarted = () => {},
  }: RunnerOptions = {},
): Promise<NodeRunner> {
  const log = deps.log ?? createLogger(config.name, { format: config.logFormat })
  const clock = deps.clock ?? systemClock
  const measure = deps.freeBytes ?? freeBytes
  const reserve = config.minFreeMb * 1024 * 1024
  const stop = new AbortController()
  let node: RunningNode | null = await start(config, { ...deps, log })
  // A node on port 0 comes back on the port it was given, so its URL stays its own.
  const again: Config = { ...config, port: node.port }
  let restarts = 0
  let restarting: Promise<void> | null = null
  let closing: Promise<void> | null = null

  const roomOnDisk = async (): Promise<boolean> => {
    try {
      return (await measure(config.dataDir)) >= reserve
    } catch {
      return true // cannot tell: let the start itself say what is wrong
    }
  }

  const watch = (running: RunningNode): void => {
    void running.failed.then((why) => {
      if (stop.signal.aborted || node !== running) return
      restarting = restart(running, why)
        // Not a start that failed (those are tried again, below): the restarting itself threw,
        // and nothing would bring the node back; a supervisor outside can.
        .catch((err: Error) => {
          log.error('restart-aborted', {
            ...bugFields(err),
            message:
              'restarting the node failed (a bug: please report this line); giving up: `npm run node` exits for its supervisor to restart it, a node of createNode stays down',
          })
          onGiveUp()
        })
        .finally(() => (restarting = null))
    })
  }

  const restart = async (failed: RunningNode, why: Error): Promise<void> => {
    node = null
    // What fails to close is logged by the node; what hangs is left behind after a while.
    const closed = failed.close().then(
      () => true,
      () => true,
    )
    const waited = new AbortController()
    const timedOut = sleep(clock, closeTimeoutMs, AbortSignal.any([stop.signal, waited.signal]))
      .then(() => false)
      .catch(() => true)
    const done = await Promise.race([closed, timedOut])
    waited.abort()
    if (!done) {
      log.error('close-timed-out', {
        message: `the failed node did not close in ${closeTimeoutMs} ms`,
      })
    }
    let waitMs = backoffMs
    let failures = 0
    for (let attempt = 1; !stop.signal.aborted; attempt++) {
      // Waiting for disk space is not failing: only failed starts count towards giving up.
      if (failures >= maxAttempts) {
        log.error('restart-gave-up', {
          message: `the node failed to start again ${failures} times; giving up: \`npm run node\` exits for its supervisor to restart it, a node of createNode stays down`,
        })
        return onGiveUp()
      }
      if (await roomOnDisk()) {
        try {
          const started = await start(again, { ...deps, log })
          if (stop.signal.aborted) return void (await started.close())
          node = started
          restarts++
          watch(started)
          onStarted(started)
          // Why it stopped: a failed store, a data directory gone, a start over.
          log.info('restarted', { attempt, after: why.message, message: 'started again' })
          return
        } catch (err) {
          failures++
          log.error('restart-failed', { attempt, error: (err as Error).message, retryMs: waitMs })
        }
      } else if (attempt === 1) {
        log.warn('restart-waiting', {
          message: `waiting for ${config.minFreeMb} MB free in ${config.dataDir} (--min-free-mb) to open the store again`,
        })
      }
      try {
        await sleep(clock, waitMs, stop.signal)
      } catch {
        return
      }
      waitMs = Math.min(waitMs * 2, maxBackoffMs)
    }
  }

  watch(node)
  onStarted(node)
  return {
    get node() {
      return node
    },
    get restarts() {
      return restarts
    },
    close() {
      closing ??= (async () => {
        stop.abort()
        await restarting
        await node?.close()
      })()
      return closing
    },
  }
}
