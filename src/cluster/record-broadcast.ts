/**
 * Records beside the log: every operation this node writes goes to every peer at once over the
 * cluster links, and a peer's operations are merged into this node's table as they arrive,
 * ahead of the log. The table's merge is commutative and idempotent (store/record-table.ts), so
 * when the log brings the same operation later nothing changes; what changes is that a request
 * reaches its owner, and an outcome the user's page, within a link's latency rather than after
 * the log's replication and linearisation (hundreds of milliseconds on a busy node, seconds in
 * a burst).
 *
 * An operation goes out as its write to this node's log starts, not once it has finished: an
 * autobase append takes 5 to 20 ms on an idle node here and 100 ms or more while the base
 * applies its peers' writes, which was most of the time a request took to show on the other
 * nodes. The log stays the record, so nothing may stay shown that never reaches it: the sender
 * confirms each operation once written, and a peer writes what its sender did not (sent-ops.ts,
 * kept-ops.ts): a sender that died or was restarted before writing, or whose write failed.
 */
import { nanoid } from 'nanoid'
import type { Logger } from '../logger.ts'
import type { Clock, Timer } from '../clock.ts'
import { parseOp, type RecordOp } from '../store/record.ts'
import type { Link, Transport } from './transport.ts'
import { KeptOps } from './kept-ops.ts'
import { SentOps } from './sent-ops.ts'

/** The part of the record log this needs (store/record-log.ts). */
export interface BroadcastLog {
  /** An operation's write to the base `key` (hex) starts: peers may be told. */
  on(event: 'writing', listener: (key: string, op: RecordOp) => void): unknown
  on(event: 'written', listener: (key: string, op: RecordOp) => void): unknown
  /** A write that started failed for good. */
  on(event: 'unwritten', listener: (op: RecordOp) => void): unknown
  on(event: 'landed', listener: (ops: RecordOp[]) => void): unknown
  mergeEarly(key: string, ops: RecordOp[]): boolean
  append(op: RecordOp): Promise<void>
}

export interface RecordBroadcastOptions {
  transport: Transport
  log: BroadcastLog
  clock: Clock
  /**
   * How long a peer's operations are kept, to be written here if it dies, and how long a
   * peer has to confirm its write before this node writes the operation itself.
   */
  keepMs: number
  /** Whether this node may write for its cluster now (its quorum, quorum-watch.ts). */
  mayAct: () => boolean
  logger: Logger
}

/** A message naming more operations than this is refused. */
const MAX_OPS_PER_MESSAGE = 10_000
const LOG_KEY = /^[0-9a-f]{64}$/
const SESSION = /^[A-Za-z0-9_-]{1,64}$/
const isSeq = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0

type Outgoing = { log: string; op: RecordOp; seq: number }
type Why = 'dead' | 'unwritten' | 'unconfirmed'

export class RecordBroadcast {
  /** This process's session: a restarted node confirms nothing it sent before. */
  private readonly session = nanoid()
  /** Operations whose write started this turn: sent as one message per base. */
  private outgoing: Outgoing[] = []
  private flushing = false
  private readonly sent: SentOps
  private readonly kept = new KeptOps()
  private readonly sweep: Timer
  readonly stats = { sent: 0, received: 0, carried: 0 }

  constructor(private readonly o: RecordBroadcastOptions) {
    // Well inside the time a peer waits for a confirmation, so that it gets one.
    this.sent = new SentOps(o.keepMs / 2)
    o.log.on('writing', (log, op) => {
      this.outgoing.push({ log, op, seq: this.sent.number(op, o.clock.now()) })
      this.flushSoon()
    })
    o.log.on('written', (_log, op) => {
      this.sent.written(op)
      this.flushSoon()
    })
    o.log.on('unwritten', (op) => {
      this.sent.failed(op)
      this.flushSoon()
    })
    o.log.on('landed', (ops) => this.kept.landed(ops))
    o.transport.on('message', (link, m) => this.onMessage(link, m))
    this.sweep = o.clock.setInterval(
      () => {
        this.carry(this.kept.expire(o.clock.now(), o.keepMs), 'peers', 'unconfirmed')
        if (this.sent.size > 0) this.flushSoon() // a write stuck past giving up is reported
      },
      Math.max(1000, o.keepMs / 4),
    )
  }

  stop(): void {
    this.o.clock.clearInterval(this.sweep)
  }

  /** A member was declared dead: what it sent lately that the log lacks is written here. */
  memberGone(memberId: string): void {
    this.carry(this.kept.gone(memberId, this.o.clock.now() - this.o.keepMs), memberId, 'dead')
  }

  private carry(ops: RecordOp[], from: string, why: Why): void {
    if (ops.length === 0 || !this.o.mayAct()) return
    this.stats.carried += ops.length
    this.o.logger.info('records-carried', { from: from.slice(0, 8), ops: ops.length, why })
    for (const op of ops)
      this.o.log.append(op).catch((err: Error) =>
        this.o.logger.warn('records-carry-failed', {
          from: from.slice(0, 8),
          error: err.message,
        }),
      )
  }

  /** One message per turn of the event loop, as the log's group commit writes one batch. */
  private flushSoon(): void {
    if (this.flushing) return
    this.flushing = true
    setImmediate(() => this.flush())
  }

  private flush(): void {
    this.flushing = false
    const outgoing = this.outgoing
    this.outgoing = []
    const report = this.sent.report(this.o.clock.now())
    const { session } = this
    // Consecutive operations on one base (a move between them is the rare exception).
    for (let i = 0; i < outgoing.length;) {
      let j = i + 1
      while (j < outgoing.length && outgoing[j]!.log === outgoing[i]!.log) j++
      const ops = outgoing.slice(i, j).map((x) => x.op)
      const m = { type: 'records', log: outgoing[i]!.log, ops, session, seq: outgoing[i]!.seq }
      for (const link of this.o.transport.links) link.send(m)
      this.stats.sent += ops.length * this.o.transport.links.size
      i = j
    }
    if (report)
      for (const link of this.o.transport.links)
        link.send({ type: 'records-written', session, ...report })
  }

  private onMessage(link: Link, raw: unknown): void {
    const m = raw as Record<string, unknown> | null
    if (m?.type === 'records') return this.onRecords(link, m)
    if (m?.type !== 'records-written') return
    const { session, written, unwritten } = m
    if (
      typeof session !== 'string' ||
      !SESSION.test(session) ||
      !isSeq(written) ||
      !Array.isArray(unwritten) ||
      unwritten.length > MAX_OPS_PER_MESSAGE ||
      !unwritten.every(isSeq)
    )
      return this.o.logger.warn('bad-relay-message', { peer: link.remoteKey.slice(0, 12) })
    const failed = this.kept.confirm(session, written, unwritten)
    this.carry(failed, link.memberId ?? link.remoteKey, 'unwritten')
  }

  private onRecords(link: Link, m: Record<string, unknown>): void {
    const ops =
      Array.isArray(m.ops) && m.ops.length <= MAX_OPS_PER_MESSAGE ? m.ops.map(parseOp) : null
    if (
      typeof m.log !== 'string' ||
      !LOG_KEY.test(m.log) ||
      !ops ||
      ops.includes(null) ||
      typeof m.session !== 'string' ||
      !SESSION.test(m.session) ||
      !isSeq(m.seq)
    )
      return this.o.logger.warn('bad-relay-message', { peer: link.remoteKey.slice(0, 12) })
    const valid = ops as RecordOp[]
    this.stats.received += valid.length
    // A peer on another log: its log (or its carry-over to ours) brings them.
    if (!this.o.log.mergeEarly(m.log, valid) || !link.memberId) return
    this.kept.keep(link.memberId, m.session, m.seq, valid, this.o.clock.now())
  }
}
