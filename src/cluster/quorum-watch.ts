/**
 * Keeps watch over this node's quorum (quorum.ts): judged every heartbeat and on every
 * membership change, told once when it is lost or regained, and asked afresh by anything
 * about to act for the cluster. While the quorum holds, a voter dead for `forgetDeadMs` stops
 * counting, so members replaced over months do not pile up; a node without a quorum forgets
 * nobody, so a side cut off cannot vote itself a majority.
 */
import { EventEmitter } from 'node:events'
import type { Clock, Timer } from '../clock.ts'
import { bugFields, type Logger } from '../logger.ts'
import type { Status } from './member.ts'
import { describeQuorum, judgeQuorum, type QuorumRule, type QuorumState } from './quorum.ts'

export interface QuorumWatchOptions {
  rule: QuorumRule
  selfId: string
  /** The other members that vote (known-members.ts). */
  voters(): string[]
  /** Whether this node reaches the member now (cluster.ts). */
  reaches(id: string): boolean
  /** How long ago the member was last heard directly (null: never), for the log. */
  silentMs?(id: string): number | null
  /** The member's name, for the log (its id's start when unknown). */
  nameOf?(id: string): string | undefined
  /** The member's status in this node's view; undefined if not heard of since the start. */
  statusOf(id: string): Status | undefined
  /** Stops counting a member. */
  forget(id: string): void
  /** How long a voter may be dead (or unheard of) before a node with a quorum forgets it. */
  forgetDeadMs: number
  /**
   * Whether this node's log holds what these members' logs held in adverts heard since
   * `since` (log-sync.ts). A node back from a cut acts only once it does: until then its log
   * does not show what the others did meanwhile (its downloads taken over, say).
   * @default always
   */
  caughtUp?: (memberIds: string[], since: number) => boolean
  /**
   * The longest a node back from a cut waits for that; then it acts, and the log's epochs
   * fence whatever it resumed that had been taken over. @default 5000
   */
  catchUpMaxMs?: number
  /** How long a member's heartbeat counts (--suspect-after-ms): the longest a loss waits. */
  leaseMs?: number
  /**
   * How long members wait before they declare a silent member dead (--suspect-after-ms plus
   * --suspicion-ms): this node back from standing still longer is rejoining. @default never
   */
  deadAfterMs?: number
  /** How often the quorum is judged besides membership changes: the heartbeat. */
  intervalMs: number
  /**
   * Runs `f` once what the sockets hold has been read: a loss is confirmed there before it is
   * told (see `check`). @default setImmediate (Node's check phase, after the poll phase)
   */
  afterIo?: (f: () => void) => void
  clock: Clock
  log: Logger
}

export interface QuorumWatchEvents {
  change: [state: QuorumState]
  /** A grace (starting, or back from standing still) ended without the quorum: now cut off. */
  'grace-over': []
}

/** How long a node that starts may take to meet its members before it is cut off (`cutOff`). */
const JOIN_GRACE_MS = 3000
/**
 * And one that held its quorum, back from standing still longer than its members wait before
 * declaring it dead: they did, and dropped its links if it was 3 s, which it dials again
 * (measured: at once, or 3.1 s when its DHT lookup is what finds them, after 12 and 20 s of
 * SIGSTOP).
 */
const REJOIN_GRACE_MS = 5000

export class QuorumWatch extends EventEmitter<QuorumWatchEvents> {
  /**
   * Whether this node acted for the cluster at the last check; null before the first. Lost
   * with the quorum; back only once the quorum is and the log has caught up.
   */
  private held: boolean | null = null
  /**
   * Since when this node is joining (it started) or rejoining (its loop stood still longer than
   * its members wait before declaring it dead: they did, and may have dropped its links), until
   * it holds its quorum; null otherwise. Within `graceMs` of it, it is not cut off.
   */
  private graceFrom: number | null = null
  private graceMs = JOIN_GRACE_MS
  /** A loss during a grace was told as `rejoining`: if the grace ends without it, a cut. */
  private rejoinTold = false
  private started = false
  /** Since when the quorum is back while the log catches up. */
  private catchingUpSince: number | null = null
  /** A loss was logged: the regain is worth a line too. */
  private told = false
  private timer: Timer | null = null
  private stopped = false
  /** A loss seen and waiting to be confirmed after the sockets are read; its waiters. */
  private confirming: ((mayAct: boolean) => void)[] | null = null
  /** When the last check ran, and when a check last found this node's own loop had stalled. */
  private lastCheckAt: number | null = null
  private stalledAt = -Infinity
  private stallMs = 0
  /** Since when each voter has been seen dead or not at all. */
  private readonly goneSince = new Map<string, number>()

  constructor(private readonly o: QuorumWatchOptions) {
    super()
  }

  /** Judged now, from who is reached at this moment. */
  state(): QuorumState {
    return judgeQuorum(this.o.rule, this.o.selfId, this.o.voters(), (id) => this.o.reaches(id))
  }

  /** Does this node reach its quorum at this moment? */
  holds(): boolean {
    return this.state().ok
  }

  /**
   * Is this node cut off from its cluster: it does not reach its quorum, and it did since it
   * started, or has been trying for `JOIN_GRACE_MS`. A node starting, which has not met its
   * members yet, is joining, not cut off: its pages were told "cut off" for the moment a
   * restarted node took to meet its peers. One restarted on the small side of a partition is
   * told cut off after the grace, so its pages move to a member that can serve them. So is a
   * node back from standing still (a paused process): its members declared it dead and dropped
   * its links, which take a moment to come back (a trial: 3 s after 10 to 20 s of SIGSTOP, a
   * false `quorum-lost` error each time, and pages told to move).
   */
  cutOff(): boolean {
    if (!this.started || this.holds()) return false
    return !this.inGrace(this.o.clock.now())
  }

  private inGrace(now: number): boolean {
    return this.graceFrom !== null && now - this.graceFrom < this.graceMs
  }

  /**
   * May this node act for the cluster (run workers, take over, accept downloads) at this
   * moment: it reaches its quorum, and after a cut its log has caught up.
   */
  mayAct(): boolean {
    if (this.held === false) return false
    if (this.holds()) return true
    this.confirmSoon()
    return false
  }

  /**
   * Whether this node may act once a loss seen now has been confirmed or refuted: for a step
   * that would rather wait a turn of the event loop than be undone (a worker's last write).
   */
  settled(): Promise<boolean> {
    if (this.mayAct()) return Promise.resolve(true)
    const waiting = this.confirming
    if (!waiting) return Promise.resolve(false)
    return new Promise((resolve) => waiting.push(resolve))
  }

  start(): void {
    if (this.timer) return
    this.started = true
    this.graceFrom = this.o.clock.now()
    this.timer = this.o.clock.setInterval(() => this.check(), this.o.intervalMs)
    this.check()
  }

  stop(): void {
    this.stopped = true
    if (this.timer) this.o.clock.clearInterval(this.timer)
    this.timer = null
  }

  /**
   * Judges the quorum and tells a change. Also after every membership change.
   *
   * A loss is told only once confirmed after the poll phase. Node runs due timers before it
   * reads the sockets, so when this node's own event loop has stood still for longer than the
   * lease (a burst of work), the first judgement after it sees every member silent, while
   * their heartbeats sit unread in the socket buffers: taken at its word, that judgement
   * stopped every worker of a node that was cut off from nobody. Meanwhile `mayAct` answers
   * no, so nothing is written on a quorum that may be gone.
   */
  check(): void {
    const now = this.o.clock.now()
    if (this.lastCheckAt !== null && now - this.lastCheckAt > 2 * this.o.intervalMs) {
      this.stalledAt = now
      this.stallMs = now - this.lastCheckAt
      // Only a node that held its quorum: one cut off already stays cut off, its pages told.
      if (this.started && this.held === true && this.stallMs > (this.o.deadAfterMs ?? Infinity)) {
        this.graceFrom = now
        this.graceMs = REJOIN_GRACE_MS
      }
    }
    this.lastCheckAt = now
    this.judge(false)
    if (this.graceFrom !== null && !this.inGrace(now) && !this.holds()) this.graceOver()
  }

  /** Still without its quorum at the grace's end: cut off, told now (`quorum-lost` if rejoining). */
  private graceOver(): void {
    this.graceFrom = null
    if (this.rejoinTold && this.held === false) {
      this.rejoinTold = false
      this.told = true
      this.o.log.error('quorum-lost', {
        message: `cut off: ${describeQuorum(this.state())}; back from standing still, it has not met its members again within ${REJOIN_GRACE_MS / 1000} s; its workers stay stopped, it takes nothing over and refuses new downloads until it reaches them`,
        ...this.silences(),
      })
    }
    this.emit('grace-over')
  }

  /**
   * Confirms a loss after the sockets are read; and, right after this node's own loop stood
   * still for S ms, only once its members stayed silent for up to S ms more (the lease at
   * most), looked at again every heartbeat. A loop that stood still that long is a machine
   * short of CPU, where the members' loops stand still too, and the datagrams they sent
   * meanwhile may have been dropped with a full socket buffer: the bench's burst saw a node
   * lose its quorum so in one run of two, with every member alive, and stop a hundred
   * downloads at 80 %. Waiting costs no safety: `mayAct` answers no meanwhile, so nothing is
   * published or written. A cut with no stall here is told as soon as the sockets are read.
   */
  private confirmSoon(): void {
    if (this.confirming) return
    this.confirming = []
    const afterIo = this.o.afterIo ?? setImmediate
    const now = this.o.clock.now()
    const until = now + Math.min(this.stall(now), this.o.leaseMs ?? Infinity)
    const confirm = () => {
      const waiting = this.confirming ?? []
      this.confirming = null
      if (!this.stopped) this.judge(true)
      const may = this.held !== false && this.holds()
      for (const resolve of waiting) resolve(may)
    }
    const look = () => {
      if (this.stopped || this.holds() || this.o.clock.now() >= until) return confirm()
      this.o.clock.setTimeout(() => afterIo(look), this.o.intervalMs)
    }
    afterIo(look)
  }

  private judge(confirmed: boolean): void {
    try {
      const state = this.state()
      // A node that starts without its quorum (restarted while its cluster is away) is not cut
      // off from anything yet: rejoin.ts says what it waits for.
      if (this.held === null) this.held = state.ok
      if (!state.ok) {
        this.catchingUpSince = null
        if (this.held && !confirmed) this.confirmSoon()
        else if (this.held) {
          this.held = false
          if (this.inGrace(this.o.clock.now())) {
            this.rejoinTold = true
            this.o.log.warn('rejoining', {
              message: `back from standing still ${this.stallMs} ms, longer than its members wait before declaring it dead: they took it for dead (and dropped its links if it was 3 s); it reaches ${state.reachable} of ${state.voters} while they come back, and its workers stop meanwhile (cut off if not within ${REJOIN_GRACE_MS / 1000} s)`,
              ...this.silences(),
            })
          } else {
            this.told = true
            this.o.log.error('quorum-lost', {
              message: `cut off: ${describeQuorum(state)}; its workers stop, it takes nothing over and refuses new downloads until it reaches them again`,
              ...this.silences(),
            })
          }
          this.emit('change', state)
        }
      } else if (!this.held && this.caughtUp()) {
        this.held = true
        if (this.told || this.rejoinTold) {
          this.told = this.rejoinTold = false
          this.o.log.info('quorum-regained', { message: describeQuorum(state) })
        }
        this.emit('change', state)
      }
      if (state.ok && this.held) this.graceFrom = null
      this.forgetLongDead(state.ok)
    } catch (err) {
      this.o.log.error('quorum-check-failed', {
        ...bugFields(err),
        message:
          'the quorum check failed (a bug: please report this line); the last verdict stands until it works again',
      })
    }
  }

  /**
   * How long this node's loop has just stood still: the checks' timer is late now (a report
   * asking `mayAct` may run before it), or was at the last check, a heartbeat ago at most.
   */
  private stall(now: number): number {
    const late = this.lastCheckAt === null ? 0 : now - this.lastCheckAt
    if (late > 2 * this.o.intervalMs) return late
    return now - this.stalledAt <= this.o.intervalMs ? this.stallMs : 0
  }

  /** For the log: how long each voter has been silent here, and this node's own last stall. */
  private silences(): Record<string, string | number> {
    const silent = this.o
      .voters()
      .map((id) => `${this.o.nameOf?.(id) ?? id.slice(0, 8)}:${this.o.silentMs?.(id) ?? 'never'}`)
      .join(',')
    const stalled = this.o.clock.now() - this.stalledAt
    return {
      silentMs: silent,
      ...(Number.isFinite(stalled) && { lastStallMs: this.stallMs, lastStallAgoMs: stalled }),
    }
  }

  /** Back in reach of its quorum: has its log caught up with the members it reaches? */
  private caughtUp(): boolean {
    const now = this.o.clock.now()
    this.catchingUpSince ??= now
    if (!this.o.caughtUp) return true
    const reached = this.o.voters().filter((id) => this.o.reaches(id))
    if (!this.o.caughtUp(reached, this.catchingUpSince)) {
      const waitedMs = now - this.catchingUpSince
      if (waitedMs < (this.o.catchUpMaxMs ?? 5000)) return false
      this.o.log.warn('log-catch-up-slow', {
        message:
          'back in reach of its quorum, its log has not caught up with the members it reaches; acting anyway',
        waitedMs,
        reached: reached.map((id) => id.slice(0, 8)).join(','),
      })
    }
    this.catchingUpSince = null
    return true
  }

  private forgetLongDead(holding: boolean): void {
    const now = this.o.clock.now()
    const voters = new Set(this.o.voters())
    for (const id of this.goneSince.keys()) if (!voters.has(id)) this.goneSince.delete(id)
    for (const id of voters) {
      const status = this.o.statusOf(id)
      if (status === 'alive' || status === 'suspect') {
        this.goneSince.delete(id)
        continue
      }
      const since = this.goneSince.get(id) ?? now
      this.goneSince.set(id, since)
      if (holding && now - since >= this.o.forgetDeadMs) {
        this.goneSince.delete(id)
        this.o.forget(id)
        this.o.log.info('member-forgotten', {
          id: id.slice(0, 8),
          message: `dead for ${Math.round((now - since) / 1000)} s: no longer counts toward the quorum`,
        })
      }
    }
  }
}
