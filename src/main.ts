#!/usr/bin/env node
/** `npm run node -- [flags]`: one node, until SIGINT or SIGTERM. */
import { ConfigError } from './config.ts'
import { helpText, parseConfig } from './flags.ts'
import { runNode } from './node-runner.ts'
import { bugFields, createLogger, type Fields } from './logger.ts'
import { lowerV8Helpers } from './thread-priority.ts'

// Compiling and collecting in the background wait for the event loop (thread-priority.ts).
lowerV8Helpers()

/** A clean shutdown must not take longer than this; past it the process exits anyway. */
const SHUTDOWN_LIMIT_MS = 1000
/** How often a node started by npm looks whether its parent is still there. */
const PARENT_CHECK_MS = 1000

async function main(): Promise<void> {
  let config
  try {
    config = parseConfig(process.argv.slice(2), process.env)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`error: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
  if (config === 'help') {
    process.stdout.write(helpText() + '\n')
    return
  }
  const log = createLogger(config.name, { format: config.logFormat })
  // A line of the node's own (its time, its name, JSON with --log-format json), not bare stderr.
  process.off('unhandledRejection', beforeLogger)
  process.on('unhandledRejection', (err) =>
    log.error('unhandled-rejection', {
      ...bugFields(err),
      message: 'a promise failed with nobody to handle it (a bug: please report this line)',
    }),
  )
  // One handler for the process's life, and a signal that repeats is ignored: a node under
  // `npm run node` (which execs it) gets a supervisor's SIGTERM, or a terminal's Ctrl-C, twice,
  // from the process group and again from npm, and with no handler left for the second, Node's
  // default action ended it in the middle of its clean stop.
  let runner: Awaited<ReturnType<typeof runNode>> | null = null
  let signalled = false
  const stopFor = (why: Fields) => {
    if (signalled) return
    signalled = true
    // Stopped while it starts (its store opening, its log read): said, rather than gone silently.
    if (!runner) {
      log.info('stopping', { ...why, message: 'stopped while starting' })
      process.exit(1)
    }
    stop(runner, why)
  }
  process.on('SIGINT', () => stopFor({ signal: 'SIGINT' }))
  process.on('SIGTERM', () => stopFor({ signal: 'SIGTERM' }))
  // Started by npm (`npx pdf-cluster`, or `npm run node` where its script cannot exec), the
  // node's parent is npm's shell, which a signal to npm ends without passing it on: the node
  // ran on, orphaned, on its port and data (a library user's trial). Its parent gone, it stops.
  if (process.env.npm_command || process.env.npm_lifecycle_event) {
    const parent = process.ppid
    setInterval(() => {
      if (process.ppid !== parent)
        stopFor({
          reason: 'parent-gone',
          message: `npm, which started this node (parent pid ${parent}), is gone: stopping with it`,
        })
    }, PARENT_CHECK_MS).unref()
  }
  try {
    runner = await runNode(config, { log }, { onGiveUp: () => process.exit(1) })
  } catch (err) {
    // A log shipper reading JSON lines learns why the node did not start, too.
    if (config.logFormat === 'json') log.error('start-failed', { error: (err as Error).message })
    process.stderr.write(`error: ${(err as Error).message}\n`)
    process.exit(1)
  }
  function stop(runner: { close(): Promise<void> }, why: Fields): void {
    log.info('stopping', why)
    setTimeout(() => {
      log.error('stop-timed-out', {
        message: `did not stop within ${SHUTDOWN_LIMIT_MS} ms; exiting`,
      })
      process.exit(1)
    }, SHUTDOWN_LIMIT_MS).unref()
    runner.close().then(
      () => process.exit(0),
      (err: Error) => {
        log.error('stop-failed', { error: err.message })
        process.exit(1)
      },
    )
  }
}

function beforeLogger(err: unknown): void {
  process.stderr.write(`unhandled rejection: ${(err as Error)?.stack ?? String(err)}\n`)
}
process.on('unhandledRejection', beforeLogger)

void main()
