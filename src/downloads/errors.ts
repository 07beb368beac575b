/** The refusals a user can meet, as errors whose message is meant for the user. */
import type { Download } from '../store/record.ts'

/** A refusal that is part of normal service: the user is told, nothing is logged as wrong. */
export class RefusalError extends Error {}

/** One download at a time per user, cluster-wide. */
export class DownloadConflictError extends RefusalError {
  constructor(readonly existing: Download) {
    super('You already have a download in progress; dismiss it before requesting another.')
    this.name = 'DownloadConflictError'
  }
}

/** The node has not yet checked its clock against its cluster's (cluster/cluster-time.ts). */
export class JoiningError extends RefusalError {
  constructor() {
    super('This node is still joining its cluster; try again in a moment.')
    this.name = 'JoiningError'
  }
}

export class ShuttingDownError extends RefusalError {
  constructor() {
    super('This node is shutting down; try again in a moment.')
    this.name = 'ShuttingDownError'
  }
}

/** This node must not write now: its disk is nearly full. */
export class StorageLowError extends RefusalError {
  constructor() {
    super('This server is low on disk space and cannot start a download now; try again shortly.')
    this.name = 'StorageLowError'
  }
}

/** The store failed (a write did not reach the disk) and the node is reopening it. */
export class StorageFailedError extends RefusalError {
  constructor() {
    super("This server's storage failed and is being reopened; try again in a moment.")
    this.name = 'StorageFailedError'
  }
}

/** A user acting faster than `--actions-per-minute` allows. */
export class TooManyActionsError extends RefusalError {
  constructor(readonly retryAfterMs: number) {
    super(
      `Too many requests and dismissals; try again in ${Math.max(1, Math.ceil(retryAfterMs / 1000))} s.`,
    )
    this.name = 'TooManyActionsError'
  }
}

/** Told to the user's sockets on the node that accepted a request which then lost. */
export const RACE_LOST_MESSAGE =
  'Another request for a download was made at the same moment and won; showing that download instead.'
