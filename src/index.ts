/**
 * The library API: `import { createNode } from 'pdf-cluster'` runs a node in the caller's
 * process, with the same settings as the command line's flags (config.ts) and the job as an
 * object or a module's path. The handle gives what an app needs around it: the node's URL and
 * members, every change to a download in the cluster, requests and dismissals on a user's
 * behalf, the file of a ready one, and close(). README, "Use it from your own app".
 */
import type { Readable } from 'node:stream'
import { ConfigError, resolveConfig, type Config } from './config.ts'
import { parseSettings } from './settings.ts'
import { createLogger, silentLogger, type Logger } from './logger.ts'
import { runNode } from './node-runner.ts'
import type { RunningNode } from './node.ts'
import type { Generator } from './downloads/generator.ts'
import type { Params } from './store/record.ts'
import { InvalidUserError } from './downloads/errors.ts'
import { isUserId } from './downloads/request-admission.ts'
import { UserWatchers } from './user-watchers.ts'
import { callAll } from './call-all.ts'
import { toPublic, type PublicDownload } from './web/protocol.ts'
import { BUILT_IN_JOBS, loadGeneratorModule, shapeProblem } from './downloads/generator-module.ts'

export type { GeneratedFile, Generator, Job, RunContext, BytesFile } from './downloads/generator.ts'
export type { Checkpoint, Params } from './store/record.ts'
export type { PublicDownload } from './web/protocol.ts'
export type { RefusalCode } from './downloads/errors.ts'
export type { Logger, Fields } from './logger.ts'
export type { QuorumRule, HostPort } from './config.ts'
export {
  RefusalError,
  DownloadConflictError,
  InvalidUserError,
  InvalidParamsError,
  TooManyActionsError,
  CutOffError,
  JoiningError,
  ShuttingDownError,
  StorageLowError,
  StorageFailedError,
} from './downloads/errors.ts'
export { ConfigError } from './config.ts'

export interface NodeOptions extends Partial<Omit<Config, 'generator'>> {
  /** The job: a generator object, a module's path, or 'pdf' (the default) or 'failing'. */
  generator?: Generator | string
  /** Where the node's log lines go. @default lines on stdout; `false` for none */
  log?: Logger | false
}

export interface MemberInfo {
  id: string
  name: string
  url: string
  status: 'alive' | 'suspect' | 'dead' | 'left'
  incarnation: number
}

/** The file of a user's ready download, as `ClusterNode.file` hands it over. */
export interface DownloadFile {
  /** The download's id. */
  id: string
  /** The name the job gave it, made safe to save under. */
  filename: string
  contentType: string
  /** Bytes. */
  size: number
  /** Its bytes, from the start; each call a new stream. */
  stream(): Readable
}

/** A download changed somewhere in the cluster: the user's record now (null once gone). */
export interface DownloadChange {
  userId: string
  download: PublicDownload | null
}

export interface ClusterNode {
  readonly id: string
  readonly name: string
  /** The node's HTTP base URL: the page, `/ws`, `/healthz`. */
  readonly url: string
  /** Every member this node knows of, itself included, with its status. */
  members(): MemberInfo[]
  /**
   * Calls `listener` on every change to any download's record in the cluster (requested, taken
   * over, ready, failed, dismissed, gone); returns the unsubscribe. A worker's progress does
   * not change the record: `watch` a user for that.
   */
  onDownload(listener: (change: DownloadChange) => void): () => void
  /**
   * Calls `watcher` with the user's download now and on every change, its live progress
   * included, as the page's socket gets it (a progress bar of your own); returns the unwatch.
   */
  watch(userId: string, watcher: (download: PublicDownload | null) => void): () => void
  /** The user's download now, as a client sees it, or null. */
  current(userId: string): PublicDownload | null
  /** Starts a download for a user; rejects with a RefusalError saying why it cannot. */
  request(userId: string, params?: Params): Promise<PublicDownload>
  /**
   * The file of the user's ready download, for your app to hand over (in a response of its
   * own, an e-mail): the page's link needs the node's session cookie, which your users may not
   * have. Null when the user has no ready download; `'not-ready'` while the cluster makes it
   * again (its maker died before a copy was made) or while no node holding it is reachable
   * from this one: ask again in a moment.
   */
  file(userId: string): Promise<DownloadFile | 'not-ready' | null>
  /** Dismisses the user's download (cancelling it if it runs); resolves to what it was. */
  dismiss(userId: string): Promise<PublicDownload | null>
  /** Stops the node: its workers write their last checkpoint first. */
  close(): Promise<void>
}

/**
 * What keeps `log` from being a logger, or null: a node calls each of its three levels, some
 * only when something goes wrong, so one missing would end the process then, not now.
 */
function loggerProblem(log: unknown): string | null {
  if (log === undefined || log === false) return null
  const expected = 'false or an object with info, warn and error functions'
  if (typeof log !== 'object' || log === null) return `log must be ${expected}`
  const missing = ['info', 'warn', 'error'].filter(
    (level) => typeof (log as Record<string, unknown>)[level] !== 'function',
  )
  return missing.length > 0 ? `log must be ${expected} (missing: ${missing.join(', ')})` : null
}

/**
 * A user id, checked where the app hands it in: not a string (42, undefined) it got as far as
 * the record's own validation before; `current` and `dismiss` answered null for any.
 */
function user(userId: unknown): string {
  if (!isUserId(userId)) throw new InvalidUserError()
  return userId
}

/** Starts a node. Rejects with a one-line message when a setting or the job cannot be used. */
export async function createNode(options: NodeOptions = {}): Promise<ClusterNode> {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new ConfigError(`createNode takes an object of options, got ${JSON.stringify(options)}`)
  const { generator: job, log: logOption, ...settings } = options
  if (typeof job === 'object' && job !== null) {
    const problem = shapeProblem(job)
    if (problem) throw new ConfigError(`generator ${problem.replace(' in its default export', '')}`)
  }
  const logProblem = loggerProblem(logOption)
  if (logProblem) throw new ConfigError(logProblem)
  const config = resolveConfig({
    ...parseSettings(settings),
    generator: typeof job === 'string' ? job : job ? job.name : undefined,
  })
  const log =
    logOption === false
      ? silentLogger
      : (logOption ?? createLogger(config.name, { format: config.logFormat }))
  const generator =
    typeof job === 'object'
      ? job
      : job && !BUILT_IN_JOBS.has(job)
        ? await loadGeneratorModule(job)
        : undefined
  const listeners = new Set<(change: DownloadChange) => void>()
  let unwatch: () => void = () => {}
  const userWatchers = new UserWatchers()
  const started = (node: RunningNode) => {
    userWatchers.attach(node.manager)
    unwatch()
    unwatch = node.manager.watch((userId) => {
      const change = { userId, download: toPublic(node.manager.current(userId)) }
      // What a listener threw is logged by the node (`watcher-failed`, with where).
      callAll(listeners, change, 'listeners')
    })
  }
  let gaveUp = false
  const runner = await runNode(
    config,
    { log, ...(generator && { generator }) },
    { onStarted: started, onGiveUp: () => (gaveUp = true) },
  )
  let closed = false
  const node = (): RunningNode => {
    // After close() resolved, the node's own "shutting down; try again in a moment" would send
    // the app waiting for a node that is not coming back.
    if (closed)
      throw new Error(
        `node ${config.name} is closed: close() was called on it; createNode() starts another`,
      )
    const running = runner.node
    if (gaveUp)
      throw new Error(
        `node ${config.name} is down: it gave up restarting after its store failed (its log says why); close() it, and createNode() starts another`,
      )
    if (!running) throw new Error(`node ${config.name} is restarting after a store failure`)
    return running
  }
  const first = node()
  return {
    id: first.id,
    name: first.name,
    url: first.url,
    members: () =>
      node()
        .cluster.members()
        .map(({ id, name, url, status, incarnation }) => ({ id, name, url, status, incarnation })),
    onDownload(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    watch: (userId, watcher) => {
      node()
      return userWatchers.watch(user(userId), watcher)
    },
    current: (userId) => toPublic(node().manager.current(user(userId))),
    request: async (userId, params) =>
      toPublic(await node().manager.request(user(userId), params)) as PublicDownload,
    file: async (userId) => {
      const manager = node().manager
      user(userId)
      const d = manager.current(userId)
      if (!d || d.state !== 'ready') return null
      const found = await manager.openFile(d.id, userId)
      if (found === null || found === 'not-ready') return found
      const { content } = found
      if (!content) return 'not-ready'
      const { id, filename, contentType } = found
      return { id, filename, contentType, size: content.size, stream: () => content.stream() }
    },
    dismiss: async (userId) => toPublic(await node().manager.dismiss(user(userId))),
    close: async () => {
      unwatch()
      listeners.clear()
      userWatchers.clear()
      await runner.close()
      closed = true
    },
  }
}
