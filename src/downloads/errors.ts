/** The refusals a user can meet, as errors whose message is meant for the user. */
import type { Download } from '../store/record.ts'

/**
 * What kind of refusal it is, for apps and socket clients that cannot use `instanceof` (another
 * copy of the package, a script on the WebSocket): stable, unlike the message's words.
 */
export type RefusalCode =
  /** A refusal of an app's own (a subclass that names no code). */
  | 'refused'
  | 'conflict'
  | 'cut-off'
  | 'joining'
  | 'shutting-down'
  | 'storage-low'
  | 'storage-failed'
  | 'invalid-params'
  | 'invalid-user'
  | 'too-many-actions'

/** A refusal that is part of normal service: the user is told, nothing is logged as wrong. */
export class RefusalError extends Error {
  constructor(
    message: string,
    readonly code: RefusalCode = 'refused',
  ) {
    super(message)
    this.name = new.target.name
  }
}

/** One download at a time per user, cluster-wide. */
export class DownloadConflictError extends RefusalError {
  constructor(readonly existing: Download) {
    super(
      existing.state === 'ready'
        ? 'You already have a download, and it is ready: clear it before requesting another.'
        : existing.state === 'error'
          ? 'You already have a download, and it failed: dismiss it before requesting another.'
          : 'You already have a download in progress: cancel it before requesting another.',
      'conflict',
    )
  }
}

/** The node reaches too few of its cluster's members to act for it (cluster/quorum.ts). */
export class CutOffError extends RefusalError {
  constructor(readonly quorum: { reachable: number; voters: number }) {
    super(
      `This server is cut off from most of its cluster (it reaches ${quorum.reachable} of ${quorum.voters} servers) and cannot start a download now; try again in a moment.`,
      'cut-off',
    )
  }
}

/** The node has not yet checked its clock against its cluster's (cluster/cluster-time.ts). */
export class JoiningError extends RefusalError {
  constructor() {
    super('This node is still joining its cluster; try again in a moment.', 'joining')
  }
}

export class ShuttingDownError extends RefusalError {
  constructor() {
    super('This node is shutting down; try again in a moment.', 'shutting-down')
  }
}

/** This node must not write now: its disk is nearly full. */
export class StorageLowError extends RefusalError {
  constructor() {
    super(
      'This server is low on disk space and cannot start a download now; try again shortly.',
      'storage-low',
    )
  }
}

/** The store failed (a write did not reach the disk) and the node is reopening it. */
export class StorageFailedError extends RefusalError {
  constructor() {
    super(
      "This server's storage failed and is being reopened; try again in a moment.",
      'storage-failed',
    )
  }
}

/** Parameters the generator refused (its `validate`), or not a JSON object of at most 2 KiB. */
export class InvalidParamsError extends RefusalError {
  constructor(reason: string) {
    super(`Invalid parameters: ${reason}`, 'invalid-params')
  }
}

/** A user id no record can hold: an app's mistake (createNode), never a session's. */
export class InvalidUserError extends RefusalError {
  constructor() {
    super('A user id is 1-64 letters, digits, "_" or "-".', 'invalid-user')
  }
}

/** A user acting faster than `--actions-per-minute` allows. */
export class TooManyActionsError extends RefusalError {
  constructor(readonly retryAfterMs: number) {
    super(
      `Too many requests and dismissals; try again in ${Math.max(1, Math.ceil(retryAfterMs / 1000))} s.`,
      'too-many-actions',
    )
  }
}

/** Told to the user's sockets on the node that accepted a request which then lost. */
export const RACE_LOST_MESSAGE =
  'Another request for a download was made at the same moment and won; showing that download instead.'
