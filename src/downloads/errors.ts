/** The refusals a user can meet, as errors whose message is meant for the user. */
import type { Download } from '../store/record.ts'

/** One download at a time per user, cluster-wide. */
export class DownloadConflictError extends Error {
  constructor(readonly existing: Download) {
    super('You already have a download in progress; dismiss it before requesting another.')
    this.name = 'DownloadConflictError'
  }
}

export class ShuttingDownError extends Error {
  constructor() {
    super('This node is shutting down; try again in a moment.')
    this.name = 'ShuttingDownError'
  }
}

/** Told to the user's sockets on the node that accepted a request which then lost. */
export const RACE_LOST_MESSAGE =
  'Another request for a download was made at the same moment and won; showing that download instead.'
