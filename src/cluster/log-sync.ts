/**
 * Keeps every node on one record log: replicates it over every admitted link, advertises which
 * log this node is on, moves to a better one it hears of (log-election.ts), and admits peers
 * that wait to become writers of ours. Its `log` messages ride the same channel as the
 * heartbeats and the relay.
 */
import type { Logger } from '../logger.ts'
import type { LogAdvert } from '../store/log-advert.ts'
import { parseAdvert } from '../store/log-advert.ts'
import { systemClock, type Clock, type Timer } from '../clock.ts'
import { better } from './log-election.ts'
import { badMessage, type Link, type LinkStream, type Transport } from './transport.ts'

/** The log as this module drives it (store/record-log.ts). */
export interface SyncedLog {
  advert(): LogAdvert
  /**
   * How many blocks of the view this node's table has read: the advert's length counts a block
   * as soon as autobase has applied it (or fast-forwarded past it), a moment before the table
   * holds it.
   */
  readLength(): number
  /** The step of a move under way (store/record-log.ts), for a move that takes too long. */
  moveStep?(): string | null
  replicate(stream: LinkStream): void
  adopt(key: string, generation: number, length: number): Promise<void>
  addWriter(writerKey: string): Promise<void>
  on(event: 'advert', listener: () => void): unknown
}

export interface LogSyncOptions {
  transport: Transport
  log: SyncedLog
  /**
   * How often the advert is repeated to every link. It goes out at once when a link opens and
   * whenever it changes; the repeat only retries a writer admission that was lost. @default 1000
   */
  advertMs?: number
  /** Re-adding a writer that still waits is pointless more often than this. @default 2000 */
  writerRetryMs?: number
  /** The name of a member, for log lines. */
  nameOf?: (memberId: string) => string | undefined
  clock?: Clock
  logger: Logger
}

/** A move to a better log that has not ended after this long counts as stuck (`adoptProblem`). */
export const ADOPT_HANGS_MS = 30_000
/**
 * Past this many logs (or writers) remembered, those no member is on (or admitted longer ago
 * than the retry interval) are forgotten: every compaction names a new log and new writers,
 * and a node runs for months.
 */
const REMEMBERED = 32

interface LogMessage {
  type: 'log'
  advert: LogAdvert
}

export class LogSync {
  private readonly clock: Clock
  private readonly advertMs: number
  private readonly writerRetryMs: number
  private readonly writerAdded = new Map<string, number>()
  /** The first advert heard on each link: what that peer's log held when this node met it. */
  private readonly firstHeard = new Map<Link, LogAdvert>()
  /** The newest advert of each member, and when it came (this node's clock). */
  private readonly latest = new Map<string, { advert: LogAdvert; at: number }>()
  /** The most writers and operations any peer said each log has (by key). */
  private readonly known = new Map<string, { writers: number; length: number }>()
  /** The move to a better log under way, and since when (this node's clock). */
  private adopting: { key: string; since: number } | null = null
  /** The move under way was told to be slow (`log-adopt-slow`). */
  private toldSlow = false
  /** Adopting a better log fails: which, why, since when and when last tried. */
  private adoptFailure: { key: string; message: string; since: number; last: number } | null = null
  private timer: Timer | null = null
  private closed = false

  /**
   * How many operations the most advanced member on this node's log has said it holds beyond
   * what this node holds: how far this node's view is behind the others' (0 when it leads).
   * Adverts older than a few repeats are not counted: their sender may be gone.
   */
  behind(): number {
    const own = this.o.log.advert()
    const now = this.clock.now()
    let most = 0
    for (const { advert, at } of this.latest.values()) {
      if (advert.key !== own.key || now - at > 3 * this.advertMs) continue
      most = Math.max(most, advert.length - own.length)
    }
    return most
  }

  /**
   * Why this node cannot move to the log its cluster is on, and for how long, while it keeps
   * trying (an advert brings it back every second): it is then off the log the others write,
   * and its writes and reads are not theirs. Null when it is not failing.
   */
  adoptProblem(): { key: string; message: string; forMs: number } | null {
    const f = this.adoptFailure
    const now = this.clock.now()
    if (f && now - f.last <= 3 * this.advertMs)
      return { key: f.key, message: f.message, forMs: now - f.since }
    // A move that never ends fails nothing, and every later move waits behind it: the node
    // stays on the log it was on, with nothing to say so (a chaos soak found one node on a log
    // three compactions old, its /healthz ok).
    const a = this.adopting
    if (!a || now - a.since < ADOPT_HANGS_MS) return null
    const forMs = now - a.since
    const step = this.o.log.moveStep?.() ?? 'waiting for an earlier one'
    if (!this.toldSlow) {
      this.toldSlow = true
      this.o.logger.warn('log-adopt-slow', { key: a.key.slice(0, 12), ms: forMs, step })
    }
    return {
      key: a.key,
      message: `the move under way has not finished (${step})`,
      forMs,
    }
  }

  /**
   * The members whose latest advert says they are writers of the log `key`: who may write it
   * for this node (cluster/scribe.ts). However old: whether a member is alive is membership's
   * to say, and a busy node's adverts come late (three nodes per test process, four processes
   * on two cores: one dropped out for a moment and another member wrote for a while).
   */
  writersOf(key: string): string[] {
    const out: string[] = []
    for (const [id, { advert }] of this.latest)
      if (advert.key === key && advert.writable) out.push(id)
    return out
  }

  constructor(private readonly o: LogSyncOptions) {
    const { advertMs = 1000, writerRetryMs = 2000, clock = systemClock } = o
    this.advertMs = advertMs
    this.writerRetryMs = writerRetryMs
    this.clock = clock
    o.transport.on('open', (link) => {
      if (this.closed) return
      o.log.replicate(link.stream)
      link.send(this.message())
    })
    o.transport.on('message', (link, m) => this.onMessage(link, m))
    o.transport.on('close', (link) => this.firstHeard.delete(link))
    o.log.on('advert', () => this.broadcast())
  }

  start(): void {
    if (this.timer || this.closed) return
    this.timer = this.clock.setInterval(() => this.broadcast(), this.advertMs)
  }

  private message(): LogMessage {
    return { type: 'log', advert: this.o.log.advert() }
  }

  private broadcast(): void {
    if (this.closed || this.o.transport.links.size === 0) return
    try {
      const message = this.message()
      for (const link of this.o.transport.links) link.send(message)
    } catch (err) {
      this.o.logger.error('log-advert-failed', { error: (err as Error).message })
    }
  }

  private onMessage(link: Link, raw: unknown): void {
    if ((raw as { type?: unknown } | null)?.type !== 'log') return
    const advert = parseAdvert((raw as { advert?: unknown }).advert)
    if (!advert) return badMessage(this.o.logger, link, 'log')
    if (this.closed) return
    if (!this.firstHeard.has(link)) this.firstHeard.set(link, advert)
    if (link.memberId) this.latest.set(link.memberId, { advert, at: this.clock.now() })
    this.onAdvert(advert, this.peerName(link))
  }

  private peerName(link: Link): string {
    return (link.memberId && this.o.nameOf?.(link.memberId)) ?? link.remoteKey.slice(0, 12)
  }

  /**
   * Adopts a better log, or admits the peer to ours if it waits to become a writer. Our log is
   * judged by the most any peer said of it: a node that has just moved to a log holds little
   * of it yet, and judged by that alone it would move to a log it had just left, and back.
   */
  private onAdvert(theirs: LogAdvert, from: string): void {
    this.remember(theirs)
    const mine = this.judged(this.o.log.advert())
    if (better(theirs, mine)) {
      if (this.adopting?.key === theirs.key) return
      this.adopting = { key: theirs.key, since: this.clock.now() }
      this.toldSlow = false
      this.o.logger.info('log-adopt', {
        key: theirs.key.slice(0, 12),
        from,
        writers: theirs.writers,
        generation: theirs.generation,
      })
      this.o.log
        .adopt(theirs.key, theirs.generation, theirs.length)
        .then(
          () => (this.adoptFailure = null),
          (err: Error) => {
            const now = this.clock.now()
            const since = this.adoptFailure?.key === theirs.key ? this.adoptFailure.since : now
            this.adoptFailure = { key: theirs.key, message: err.message, since, last: now }
            this.o.logger.error('log-adopt-failed', {
              key: theirs.key.slice(0, 12),
              heardFrom: from,
              error: err.message,
              message:
                'cannot move to the log the cluster is on, so what this node writes does not reach its cluster; tried again at the next advert (/healthz fails after 5 s)',
            })
          },
        )
        .finally(() => {
          if (this.adopting?.key === theirs.key) this.adopting = null
        })
      return
    }
    if (theirs.key !== mine.key || theirs.writable || !mine.writable) return
    const now = this.clock.now()
    const last = this.writerAdded.get(theirs.writer) ?? -Infinity
    if (now - last < this.writerRetryMs) return
    this.writerAdded.set(theirs.writer, now)
    if (this.writerAdded.size > REMEMBERED)
      for (const [writer, at] of this.writerAdded)
        if (now - at >= this.writerRetryMs) this.writerAdded.delete(writer)
    this.o.logger.info('writer-add', { member: from, writer: theirs.writer.slice(0, 12) })
    this.o.log.addWriter(theirs.writer).catch((err: Error) => {
      if (!this.closed) this.o.logger.error('writer-add-failed', { error: err.message })
    })
  }

  private remember(advert: LogAdvert): void {
    const known = this.known.get(advert.key)
    this.known.set(advert.key, {
      writers: Math.max(known?.writers ?? 0, advert.writers),
      length: Math.max(known?.length ?? 0, advert.length),
    })
    if (this.known.size <= REMEMBERED) return
    const onNow = new Set([this.o.log.advert().key, advert.key])
    for (const { advert: latest } of this.latest.values()) onNow.add(latest.key)
    for (const key of this.known.keys()) if (!onNow.has(key)) this.known.delete(key)
  }

  private judged(mine: LogAdvert): LogAdvert {
    const known = this.known.get(mine.key)
    if (!known) return mine
    return {
      ...mine,
      writers: Math.max(mine.writers, known.writers),
      length: Math.max(mine.length, known.length),
    }
  }

  /**
   * Whether this node's table holds, for each of these members, at least what that member's
   * log held when this node first heard from it: the same log, read as far. Read, not only
   * applied: a node restarted after a SIGKILL whose view had reached its peers' length but
   * whose table had not read it yet acted on what it held before the kill, starting downloads
   * its cluster had finished and dismissing users' new requests in favour of them (the soak's
   * chaos, at most restarts).
   */
  syncedWith(memberIds: string[]): boolean {
    const mine = this.o.log.advert()
    const read = this.o.log.readLength()
    return memberIds.every((id) => {
      for (const [link, first] of this.firstHeard) {
        if (link.memberId !== id) continue
        return first.key === mine.key && read >= first.length
      }
      return false
    })
  }

  /**
   * Whether this node's log holds, for each of these members, what the member said its log
   * held in an advert heard at `since` or later: the same log, and as long. A node back from
   * a cut asks this before it acts on what its log says.
   */
  caughtUpSince(memberIds: string[], since: number): boolean {
    const mine = this.o.log.advert()
    const read = this.o.log.readLength()
    return memberIds.every((id) => {
      const heard = this.latest.get(id)
      return (
        heard !== undefined &&
        heard.at >= since &&
        heard.advert.key === mine.key &&
        read >= heard.advert.length
      )
    })
  }

  /** Safe to call twice. */
  close(): void {
    this.closed = true
    if (this.timer) this.clock.clearInterval(this.timer)
  }
}
