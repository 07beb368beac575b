/**
 * Whether this node takes a user's request now; if not, the error the user is told. What is
 * wrong wherever and whenever it is sent comes first (the user id, the parameters, a download
 * already there), then what is this node's state (its clock, its quorum, a restart, its disk),
 * so that a user is not told to try again later what will be refused anyway.
 */
import { checkParams, type Download, type Params } from '../store/record.ts'
import type { QuorumState } from '../cluster/quorum.ts'
import type { Generator } from './generator.ts'
import type { Logger } from '../logger.ts'
import { thrownAt, thrownMessage } from './thrown-at.ts'
import type { Successors } from './supervisor.ts'
import {
  CutOffError,
  DownloadConflictError,
  InvalidParamsError,
  InvalidUserError,
  JoiningError,
  ShuttingDownError,
  StorageFailedError,
  StorageLowError,
} from './errors.ts'

/** A user id a record can hold (store/record.ts). */
const USER_ID = /^[A-Za-z0-9_-]{1,64}$/

/** Whether `userId` is a user id: a string (a regular expression would take 42 for "42"). */
export function isUserId(userId: unknown): userId is string {
  return typeof userId === 'string' && USER_ID.test(userId)
}

/** Why the node cannot write now: the disk is under its reserve, or the store failed. */
export type StorageProblem = 'low' | 'failed'

export interface RequestAdmissionOptions {
  repo: { forUser(userId: string): Download | null }
  generator: Pick<Generator, 'validate'>
  placement: Pick<Successors, 'mayWork' | 'mayWorkSettled'>
  log: Logger
  /** Whether record time may be stamped on yet (cluster time compared, or alone). @default yes */
  timeTrusted?: () => boolean
  /** This node's quorum now (cluster/quorum-watch.ts). @default always held */
  quorum?: () => QuorumState
  /**
   * Whether a node without its quorum is cut off, or still joining it (just started, or back
   * from standing still: quorum-watch.ts, `cutOff`). @default cut off
   */
  cutOff?: () => boolean
}

/** What the manager knows of itself that admission asks about. */
export interface NodeState {
  closed: boolean
  storage: StorageProblem | null
}

export class RequestAdmission {
  constructor(private readonly o: RequestAdmissionOptions) {}

  /** Resolves if this node takes the request now; throws what the user is told if not. */
  async check(userId: string, params: Params, node: NodeState): Promise<void> {
    if (node.closed) throw new ShuttingDownError()
    // Bad parameters stay bad wherever and whenever they are sent: said first.
    if (!isUserId(userId)) throw new InvalidUserError()
    const refused = await this.refusal(userId, params)
    if (refused) throw new InvalidParamsError(refused)
    // The refusal that is true whatever state this node is in comes first. (The insert checks
    // again, atomically.)
    const existing = this.o.repo.forUser(userId)
    if (existing) throw new DownloadConflictError(existing)
    // A record stamped on a clock not yet checked against the cluster's may be hours off.
    if (this.o.timeTrusted && !this.o.timeTrusted()) throw new JoiningError()
    // Cut off, it may be on the minority side of a split: a download accepted here could run
    // beside one accepted there for the same user.
    let quorum = this.o.quorum?.()
    // A loss seen now may be this node's own stall, before it read the heartbeats waiting.
    if (quorum && !quorum.ok && (await this.o.placement.mayWorkSettled?.()))
      quorum = this.o.quorum?.()
    if (quorum && !quorum.ok)
      throw this.o.cutOff?.() === false ? new JoiningError() : new CutOffError(quorum)
    // Restarted, or back from a cut, it does not yet know what its cluster did meanwhile.
    if (!this.o.placement.mayWork()) throw new JoiningError()
    if (node.storage === 'low') throw new StorageLowError()
    if (node.storage === 'failed') throw new StorageFailedError()
  }

  /** The generator's objection to these parameters, or null. */
  private async refusal(userId: string, params: Params): Promise<string | null> {
    const shape = checkParams(params)
    if (!shape.ok) return shape.error
    try {
      const problem = await this.o.generator.validate?.(params)
      if (problem === null || problem === undefined || problem === '') return null
      return typeof problem === 'string' ? problem : 'the generator refused them.'
    } catch (err) {
      // A validate that throws is the generator's bug; the user is told no more than that.
      this.o.log.warn('validate-failed', {
        user: userId,
        error: thrownMessage(err),
        ...(thrownAt(err) && { thrownAt: thrownAt(err) }),
      })
      return 'the generator could not check them.'
    }
  }
}
