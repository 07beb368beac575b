/**
 * A node's view of the cluster: it drives the membership state machine and the failure
 * detector from heartbeats over the transport's links, and reports membership events to
 * whoever listens.
 *
 * Every heartbeat carries the sender's whole view (members and how long ago it heard each
 * one). That is simple and converges in one round; it suits clusters of tens of nodes.
 */
import { EventEmitter } from 'node:events'
import { bugFields, type Logger } from '../logger.ts'
import { delay, systemClock, type Clock, type Timer } from '../clock.ts'
import { FailureDetector } from './failure-detector.ts'
import { HeartbeatEcho } from './heartbeat-echo.ts'
import { isLiveStatus, type Member } from './member.ts'
import { ClusterTime } from './cluster-time.ts'
import { SkewReport, type SkewedClock } from './clock-skew.ts'
import { Membership, type MembershipEvent } from './membership.ts'
import { parseBeat, type Beat } from './beat.ts'
import { BeatOrder } from './beat-order.ts'
import { twinYields } from './twin.ts'
import { badMessage, type Link, type Transport } from './transport.ts'

export interface ClusterTimings {
  /** How often each node sends its heartbeat to every link. */
  heartbeatMs: number
  /** Silence after which a member is suspected. */
  suspectAfterMs: number
  /** How long a suspicion stands before the member is declared dead. */
  suspicionMs: number
}

/** Every how many heartbeats one also goes over the stream (see `broadcast`). */
const STREAM_BEAT_EVERY = 5
/** How long a leave is given to reach the wire before the links close. */
const LEAVE_FLUSH_MS = 30

export const DEFAULT_TIMINGS: ClusterTimings = {
  heartbeatMs: 100,
  suspectAfterMs: 500,
  suspicionMs: 300,
}

export interface ClusterEvents {
  member: [event: MembershipEvent]
  /** This node's event loop stood still for `ms`, long enough for the others to declare it dead. */
  stalled: [ms: number]
  /** A heartbeat's round trip to a member and back (its echo), in ms. */
  rtt: [memberId: string, ms: number]
  /** Another live process runs with this node's id (twin.ts); told once a link. */
  twin: [twin: { url: string; yields: boolean }]
}

export interface ClusterOptions {
  self: Omit<Member, 'status' | 'incarnation'>
  transport: Transport
  timings?: ClusterTimings
  /** While a known live member has no link, look for peers again this often. @default 1000 */
  refreshMs?: number
  clock?: Clock
  /** Fed with every member's clock; one is made if not given. */
  time?: ClusterTime
  /** Clocks further than this from cluster time are reported (clock-skew.ts). @default 1000 */
  maxClockSkewMs?: number
  /**
   * Whether this node's verdicts of death count now: not while it is cut off from its quorum
   * (quorum-watch.ts), when the silence is more likely its own. Its suspects stay suspects.
   * @default always
   */
  mayDeclareDead?: () => boolean
  /** The job this node runs (its generator's name), told to the others in every beat. */
  job?: string
  /** Whether this node takes no new downloads now (its disk is low), told in every beat. */
  full?: () => boolean
  log: Logger
}

export class Cluster extends EventEmitter<ClusterEvents> {
  private readonly membership: Membership
  private readonly detector: FailureDetector
  private readonly t: ClusterTimings
  private readonly clock: Clock
  private readonly refreshMs: number
  private readonly skewReport: SkewReport
  /**
   * When each member's own heartbeat last arrived here: the quorum's lease (quorum.ts). Unlike
   * the detector's evidence it counts no relayed hearsay and is not forgiven a local stall:
   * a node cut off must stop before the others take its work over.
   */
  /** Round trips from the echoes in members' beats (heartbeat-echo.ts). */
  private readonly echoes: HeartbeatEcho
  private readonly heardDirectly = new Map<string, number>()
  /** Members whose last beat said they take no new downloads (Beat.full). */
  private readonly full = new Set<string>()
  /** Cluster time, from the members' clocks as their heartbeats report them. */
  readonly time: ClusterTime
  private timer: Timer | null = null
  private lastTick = 0
  private ticks = 0
  /** Counts this node's beats (Beat.seq). */
  private seq = 0
  private readonly order = new BeatOrder()
  private lastRefresh = 0
  private closed = false
  /** When this process started (Beat.startedAt). */
  private readonly startedAt: number
  /** Links a twin's heartbeat came over, told already. */
  private readonly twins = new WeakSet<Link>()

  constructor(private readonly o: ClusterOptions) {
    super()
    const { timings = DEFAULT_TIMINGS, clock = systemClock, refreshMs = 1000 } = o
    this.t = timings
    this.clock = clock
    this.refreshMs = refreshMs
    // A restart must outrank everything said about the previous run: the clock does that.
    this.echoes = new HeartbeatEcho(o.self.id)
    this.startedAt = this.now()
    this.membership = new Membership({ ...o.self, incarnation: this.startedAt, status: 'alive' })
    this.time = o.time ?? new ClusterTime(clock)
    this.skewReport = new SkewReport({
      alarm: { selfId: o.self.id, toleranceMs: o.maxClockSkewMs ?? 1000 },
      time: this.time,
      nameOf: (id) => this.membership.get(id)?.name,
      isLive: (id) => isLiveStatus(this.membership.get(id)?.status ?? 'dead'),
      log: o.log,
    })
    this.detector = new FailureDetector(this.t)
    o.transport.on('open', (link) => {
      if (!this.closed) link.send(this.beat())
    })
    o.transport.on('message', (link, m) => this.onMessage(link, m))
    o.transport.on('close', (link) => this.onClose(link))
  }

  private now(): number {
    return this.clock.now()
  }

  get self(): Member {
    return this.membership.self
  }

  members(): Member[] {
    return this.membership.all()
  }

  live(): Member[] {
    return this.membership.live()
  }

  /** A member this node has heard of, itself included. */
  member(id: string): Member | undefined {
    return this.membership.get(id)
  }

  /**
   * Whether this node reaches the member now: it is itself, or its own heartbeat arrived
   * within the suspicion delay and it is not dead. Judged afresh on every call.
   */
  /** How long ago the member's own heartbeat last arrived here; null if it never did. */
  silentMs(id: string): number | null {
    const at = this.heardDirectly.get(id)
    return at === undefined ? null : this.now() - at
  }

  reaches(id: string): boolean {
    if (id === this.self.id) return true
    const status = this.membership.get(id)?.status
    const at = this.heardDirectly.get(id)
    return (
      at !== undefined &&
      status !== undefined &&
      isLiveStatus(status) &&
      this.now() - at < this.t.suspectAfterMs
    )
  }

  /** Starts heartbeating (the transport is started by its owner). */
  start(): void {
    if (this.timer || this.closed) return
    this.lastTick = this.now()
    this.timer = this.clock.setInterval(() => this.tick(), this.t.heartbeatMs)
  }

  private tick(): void {
    try {
      const now = this.now()
      const lateMs = now - this.lastTick - this.t.heartbeatMs
      this.lastTick = now
      // Our own loop was stalled: the silence of others over that time proves nothing.
      if (lateMs > this.t.heartbeatMs) this.detector.stalled(lateMs)
      if (lateMs >= this.t.suspectAfterMs + this.t.suspicionMs) {
        this.o.log.warn('stalled', {
          ms: lateMs,
          message: `this node's event loop stood still ${lateMs} ms, longer than peers wait before declaring a member dead: any downloads it ran may have been taken over, and its workers are fenced (look for a paused process or machine: SIGSTOP, docker pause, a suspended VM; or CPU starvation, swapping, long garbage collections)`,
        })
        this.emit('stalled', lateMs)
      }
      const others = this.membership.all().filter((m) => m.id !== this.self.id)
      const { suspect, dead } = this.detector.verdicts(now, others)
      for (const id of suspect) this.emitEvent(this.membership.mark(id, 'suspect'))
      // A death verdict made while cut off would outlive the cut: at the heal this node would
      // take the downloads of members that were working all along.
      if (dead.length > 0 && (this.o.mayDeclareDead?.() ?? true))
        for (const id of dead) this.emitEvent(this.membership.mark(id, 'dead'))
      this.broadcast(++this.ticks % STREAM_BEAT_EVERY === 0 ? 'both' : 'datagram')
      this.maybeRefresh(now)
      this.skewReport.report(now)
    } catch (err) {
      // Thrown before the broadcast, no heartbeat went out: a tick that keeps failing gets this
      // node declared dead by its peers.
      this.o.log.error('cluster-tick-failed', {
        ...bugFields(err),
        message:
          'the heartbeat tick failed (a bug: please report this line); while it fails, peers may declare this node dead',
      })
    }
  }

  private maybeRefresh(now: number): void {
    if (now - this.lastRefresh < this.refreshMs) return
    const linked = new Set([...this.o.transport.links].map((l) => l.memberId))
    const unlinked = this.membership.live().some((m) => m.id !== this.self.id && !linked.has(m.id))
    if (unlinked || this.o.transport.links.size === 0) {
      this.lastRefresh = now
      this.o.transport.refresh()
    }
  }

  /** Members whose clocks are off cluster time past the tolerance, as last checked. */
  skewedClocks(): SkewedClock[] {
    return this.skewReport.skewed()
  }

  private beat(): Beat {
    const now = this.now()
    return {
      type: 'beat',
      now,
      seq: this.seq++,
      startedAt: this.startedAt,
      self: this.self,
      members: this.membership.all(),
      heard: this.detector.ages(now),
      echo: this.echoes.echo(now),
      ...(this.o.job !== undefined && { job: this.o.job }),
      ...(this.o.full?.() && { full: true as const }),
    }
  }

  /**
   * Whether a member takes new downloads, as its own last beat said (a member that said
   * nothing, an older node, does). Each node's view: a new download's owner is written in its
   * record, so two views need not agree.
   */
  takesWork(id: string): boolean {
    return !this.full.has(id)
  }

  /**
   * Sends a beat to every link. The heartbeat's own goes as a datagram (Link.datagram), so a
   * link whose stream is queued behind replication cannot hold it back; every
   * `STREAM_BEAT_EVERY`th also goes over the stream, and so does every beat that tells a
   * change, so gossip that must arrive does. A view too large for a datagram goes without its
   * members (the stream's beats carry them); a link without datagrams gets the stream's.
   */
  private broadcast(how: 'stream' | 'datagram' | 'both' = 'stream'): void {
    if (this.o.transport.links.size === 0) return
    const beat = this.beat()
    const pulse: Beat = { ...beat, members: [] }
    for (const link of this.o.transport.links) {
      const sent = how !== 'stream' && (link.datagram(beat) || link.datagram(pulse))
      if (how !== 'datagram' || !sent) link.send(beat)
    }
  }

  /**
   * A member this node declared dead keeps its link until the connection's own timeout
   * notices (about 2 s): until then what waits on that peer waits too, the log's replication
   * requests included, and a takeover's write took those 2 s to land. Closed now, they go to
   * the live peers; a member that was only stalled connects again and refutes. Not while this
   * node still hears it (a verdict gossiped by a member cut off from it).
   */
  private dropLinks(memberId: string): void {
    const at = this.heardDirectly.get(memberId)
    if (at !== undefined && this.now() - at < this.t.suspectAfterMs) return
    for (const link of this.o.transport.links) {
      if (link.memberId !== memberId) continue
      this.o.log.info('link-dropped', { member: this.membership.get(memberId)?.name, why: 'dead' })
      link.close()
    }
  }

  private twin(link: Link, beat: Beat): void {
    // This very process, looped back to itself: not a twin.
    if (beat.startedAt === this.startedAt && beat.self.url === this.self.url) return
    if (this.twins.has(link)) return
    this.twins.add(link)
    const mine = { url: this.self.url, startedAt: this.startedAt }
    const theirs = { url: beat.self.url, startedAt: beat.startedAt }
    this.emit('twin', { url: beat.self.url, yields: twinYields(mine, theirs) })
  }

  private onClose(link: Link): void {
    if (link.memberId)
      this.o.log.info('link-closed', { member: this.membership.get(link.memberId)?.name })
  }

  private onMessage(link: Link, raw: unknown): void {
    // Other message types on the channel belong to the relay and the log.
    if ((raw as { type?: unknown } | null)?.type !== 'beat') return
    const beat = parseBeat(raw)
    if (!beat) {
      return badMessage(this.o.log, link, 'beat')
    }
    if (this.order.stale(beat)) return
    // Not a member: this node itself, in another process. Heard, it is told; nothing else.
    if (beat.self.id === this.self.id) return this.twin(link, beat)
    const now = this.now()
    link.memberId = beat.self.id
    const before = this.membership.get(beat.self.id)
    if (!before || beat.self.incarnation > before.incarnation)
      this.detector.reset(beat.self.id, now)
    this.detector.heard(beat.self.id, now)
    this.heardDirectly.set(beat.self.id, now)
    if (beat.full) this.full.add(beat.self.id)
    else this.full.delete(beat.self.id)
    this.merge(beat.self)
    // A late beat of a member that has since left must not bring its clock back.
    const sender = this.membership.get(beat.self.id)
    if (beat.now !== undefined && sender && isLiveStatus(sender.status))
      this.time.observe(beat.self.id, beat.now)
    if (beat.now !== undefined) this.echoes.received(beat.self.id, beat.now, now)
    this.checkJob(beat)
    const rtt = this.echoes.roundTrip(beat.echo, now)
    if (rtt !== null) this.emit('rtt', beat.self.id, rtt)
    for (const m of beat.members) {
      // A member whose own heartbeat reached us within the lease is alive as far as we can
      // know: a report that it is suspect or dead speaks of another moment or another side.
      // Taken as given, one side of a healed partition would declare the other's members dead
      // (the report wins at the same incarnation) and take their downloads over before they
      // refute it.
      // (About this node itself it is taken, and refuted.)
      const aboutOther = m.id !== this.self.id
      if (aboutOther && (m.status === 'suspect' || m.status === 'dead') && this.reaches(m.id))
        continue
      this.merge(m)
    }
    for (const [id, ageMs] of Object.entries(beat.heard)) {
      if (id !== this.self.id && id !== beat.self.id) this.detector.heard(id, now - ageMs)
    }
  }

  /** Members running another job make other files for the downloads they own: said once each. */
  private readonly jobWarned = new Set<string>()

  private checkJob(beat: Beat): void {
    if (beat.job === undefined || this.o.job === undefined || beat.job === this.o.job) return
    const key = `${beat.self.id}/${beat.self.incarnation}`
    if (this.jobWarned.has(key)) return
    this.jobWarned.add(key)
    this.o.log.warn('job-mismatch', {
      member: beat.self.name,
      theirs: beat.job,
      ours: this.o.job,
      message: 'members run different jobs: a download makes the file of whichever node owns it',
    })
  }

  private merge(report: Member): void {
    const event = this.membership.apply(report)
    if (!event) return
    if (event.type === 'refuted') {
      this.o.log.info('refuted', {
        incarnation: event.member.incarnation,
        message:
          'a member took this node for suspect or dead (its beats came late); it says it is alive, and the others take its word',
      })
      this.broadcast('both')
      return
    }
    if (event.type === 'joined') {
      this.detector.reset(event.member.id, this.now())
      // Heard of through another member's heartbeat, before a link of our own opened: one
      // lease window of grace, or every node forming a cluster would count itself cut off.
      this.heardDirectly.set(event.member.id, this.now())
    }
    this.emitEvent(event)
  }

  private emitEvent(event: MembershipEvent | null): void {
    if (!event) return
    // A dead member's clock still counts (cluster-time.ts); one that left cleanly does not.
    if (event.type === 'left') this.time.forget(event.member.id)
    this.o.log.info(`member-${event.type}`, {
      member: event.member.name,
      id: event.member.id.slice(0, 8),
      url: event.member.url,
      // A return: the status page says "came back".
      ...(event.was && { back: true, was: event.was }),
    })
    this.emit('member', event)
    if (event.type === 'dead') this.dropLinks(event.member.id)
  }

  /**
   * Leaves cleanly: tells every link at once and gives that a moment to reach the wire before
   * the transport (closed after this by its owner) drops the sockets. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.timer) this.clock.clearInterval(this.timer)
    this.membership.leave()
    this.broadcast()
    await delay(this.clock, LEAVE_FLUSH_MS)
  }
}
