/**
 * A twin: another process running with this node's id, heard directly (its heartbeat came over
 * a link, so it is alive now; what peers gossip of this node's id may be a past run of it).
 * Two processes on one id are two nodes started from one data directory: a cloned machine, or a
 * copy of a directory started beside the original. Both would write the same writer core of the
 * log and run the same member's downloads (an operator trial: the clone restarted two of the
 * original's downloads from 0 %). One of them gives the id up: the one started later, which
 * starts over as a new member (start-over.ts); on a tie, the one whose URL sorts later.
 */

/** What a twin's heartbeat says of it. */
export interface TwinFacts {
  url: string
  /** When its process started (beat.ts `startedAt`); absent from older nodes. */
  startedAt?: number
}

/** Whether this node is the twin that gives the id up (pure: the twin decides the same). */
export function twinYields(mine: Required<TwinFacts>, theirs: TwinFacts): boolean {
  if (theirs.startedAt !== undefined && theirs.startedAt !== mine.startedAt)
    return mine.startedAt > theirs.startedAt
  return mine.url > theirs.url
}
