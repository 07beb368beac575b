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
import { badMessage, type Link, type Transport } from './transport.ts'
import { KeptOps } from './kept-ops.ts'
import { SentOps } from './sent-ops.ts'
import { DelegatedOps } from './scribe.ts'
import type { Scribe } from '../store/log-writer.ts'

/** The part of the record log this needs (store/record-log.ts). */
export interface BroadcastLog {
  /** An operation's write to the base `key` (hex) starts: peers may be told. */
  on(event: 'writing', listener: (key: string, op: RecordOp) => void): unknown
  on(event: 'written', listener: (key: string, op: RecordOp) => void): unknown
  /** A write that started failed for good. */
  on(event: 'unwritten', listener: (op: RecordOp) => void): unknown
  on(event: 'landed', listener: (ops: RecordOp[]) => void): unknown
  mergeEarly(key: string, ops: RecordOp[]): boolean
  /** `here`: written by this node, not handed to a scribe. */
  append(op: RecordOp, o?: { here?: boolean }): Promise<void>
  /** From now on, `append` asks `scribe` to write for this node (scribe.ts). */
  handTo(scribe: Scribe): void
  /** Writes operations a peer asked this node to write: false if it did not. */
  writeFor(key: string, ops: RecordOp[]): Promise<boolean>
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
  /** This node's member id: a peer's `records` naming it as scribe are written here. */
  selfId: string
  /** Whether this node may write for its cluster now (its quorum, quorum-watch.ts). */
  mayAct: () => boolean
  /**
   * The member this node asks to write its operations to the base `log` (scribe.ts), or null
   * to write them itself. Absent: every node writes its own.
   */
  scribeFor?: (log: string) => string | null
  logger: Logger
}

/** A message naming more operations than this is refused. */
const MAX_OPS_PER_MESSAGE = 10_000
const LOG_KEY = /^[0-9a-f]{64}$/
const SESSION = /^[A-Za-z0-9_-]{1,64}$/
const isSeq = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0

/** `scribe`: the member asked to write it for this node, if one is. */
type Outgoing = { log: string; op: RecordOp; seq: number; scribe?: string }
type Why = 'dead' | 'unwritten' | 'unconfirmed'

export class RecordBroadcast {
  /** This process's session: a restarted node confirms nothing it sent before. */
  private readonly session = nanoid()
  /** Operations whose write started this turn: sent as one message per base. */
  private outgoing: Outgoing[] = []
  private flushing = false
  /** Waiting for the flush under way (`told`). */
  private afterFlush: (() => void)[] = []
  private readonly sent: SentOps
  private readonly kept = new KeptOps()
  /** What this node asked a scribe to write (scribe.ts). */
  private readonly delegated = new DelegatedOps()
  private readonly sweep: Timer
  private stopped = false
  /** `handed`: operations a scribe wrote for this node; `scribed`: that this node wrote for one. */
  readonly stats = { sent: 0, received: 0, carried: 0, handed: 0, scribed: 0 }

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
    o.log.on('landed', (ops) => {
      this.kept.landed(ops)
      this.delegated.landed(ops)
    })
    o.transport.on('message', (link, m) => this.onMessage(link, m))
    o.transport.on('close', (link) => {
      const id = link.memberId
      if (this.stopped || !id) return
      if (![...o.transport.links].some((l) => l !== link && l.memberId === id))
        this.rewrite(this.delegated.gone(id), id)
    })
    if (o.scribeFor) o.log.handTo((log, op) => this.ask(log, op))
    this.sweep = o.clock.setInterval(
      () => {
        const now = o.clock.now()
        this.carry(this.kept.expire(now, o.keepMs), 'peers', 'unconfirmed')
        // An answer is waited for less long than peers wait before writing a copy (sent-ops.ts).
        this.rewrite(this.delegated.expire(now, o.keepMs / 4, o.keepMs), 'scribe')
        if (this.sent.size > 0) this.flushSoon() // a write stuck past giving up is reported
      },
      Math.min(1000, o.keepMs / 4),
    )
  }

  stop(): void {
    this.stopped = true
    this.o.clock.clearInterval(this.sweep)
    this.delegated.clear()
  }

  /** A member was declared dead: what it sent lately that the log lacks is written here. */
  memberGone(memberId: string): void {
    this.carry(this.kept.gone(memberId, this.o.clock.now() - this.o.keepMs), memberId, 'dead')
    this.rewrite(this.delegated.gone(memberId), memberId)
  }

  /**
   * Asks the scribe to write an operation whose write starts now ('writing' numbered it and
   * queued it for the peers): its message says whom it asks. Null when this node writes it.
   */
  private ask(log: string, op: RecordOp): Promise<boolean> | null {
    const scribe = this.stopped ? null : this.o.scribeFor?.(log)
    if (!scribe || ![...this.o.transport.links].some((l) => l.memberId === scribe)) return null
    // 'writing' has just queued it: the last one, unless a listener queued more since.
    let out: Outgoing | undefined
    for (let i = this.outgoing.length - 1; i >= 0 && !out; i--)
      if (this.outgoing[i]!.op === op && this.outgoing[i]!.log === log) out = this.outgoing[i]
    if (!out || out.scribe) return null
    out.scribe = scribe
    return this.delegated.ask(out.seq, op, scribe, this.o.clock.now()).then((written) => {
      if (written) this.stats.handed++
      return written
    })
  }

  /**
   * What a scribe wrote for this node and this node's log never brought (the scribe died, or
   * its write did not replicate in time): written again, here, not handed to a scribe again
   * (the same one, still alive and slow to replicate, would only write it once more).
   */
  private rewrite(ops: RecordOp[], scribe: string): void {
    if (ops.length === 0) return
    this.o.logger.info('records-rewritten', { scribe: scribe.slice(0, 8), ops: ops.length })
    for (const op of ops)
      this.o.log
        .append(op, { here: true })
        .catch((err: Error) => this.o.logger.warn('records-rewrite-failed', { error: err.message }))
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

  /**
   * Resolves once what this node has started writing so far has been sent to its peers: at the
   * end of this turn of the event loop (`flush`), or at once when nothing waits to be sent.
   */
  told(): Promise<void> {
    if (!this.flushing) return Promise.resolve()
    return new Promise((resolve) => this.afterFlush.push(resolve))
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
    // Consecutive operations on one base for one scribe (or none): one message.
    for (let i = 0; i < outgoing.length;) {
      const { log, seq, scribe } = outgoing[i]!
      let j = i + 1
      while (j < outgoing.length && outgoing[j]!.log === log && outgoing[j]!.scribe === scribe) j++
      const ops = outgoing.slice(i, j).map((x) => x.op)
      const m = { type: 'records', log, ops, session, seq, ...(scribe ? { scribe } : {}) }
      for (const link of this.o.transport.links) link.send(m)
      this.stats.sent += ops.length * this.o.transport.links.size
      i = j
    }
    if (report)
      for (const link of this.o.transport.links)
        link.send({ type: 'records-written', session, ...report })
    const waiting = this.afterFlush
    this.afterFlush = []
    for (const resolve of waiting) resolve()
  }

  private onMessage(link: Link, raw: unknown): void {
    const m = raw as Record<string, unknown> | null
    if (m?.type === 'records') return this.onRecords(link, m)
    if (m?.type === 'records-scribed') return this.onScribed(link, m)
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
      return badMessage(this.o.logger, link, 'records-written', 'bad-relay-message')
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
      return badMessage(this.o.logger, link, 'records', 'bad-relay-message')
    const valid = ops as RecordOp[]
    this.stats.received += valid.length
    // A peer on another log: its log (or its carry-over to ours) brings them.
    const merged = this.o.log.mergeEarly(m.log, valid)
    if (merged && link.memberId)
      this.kept.keep(link.memberId, m.session, m.seq, valid, this.o.clock.now())
    if (m.scribe === undefined || m.scribe !== this.o.selfId) return
    const answer = (written: boolean) =>
      link.send({
        type: 'records-scribed',
        session: m.session,
        seq: m.seq,
        count: valid.length,
        written,
      })
    if (!merged) return answer(false)
    void this.o.log.writeFor(m.log, valid).then((written) => {
      if (written) this.stats.scribed += valid.length
      answer(written)
    })
  }

  /** A scribe's answer to what this node asked it to write. */
  private onScribed(link: Link, m: Record<string, unknown>): void {
    const { session, seq, count, written } = m
    if (
      !link.memberId ||
      session !== this.session ||
      !isSeq(seq) ||
      !isSeq(count) ||
      count > MAX_OPS_PER_MESSAGE ||
      seq + count > Number.MAX_SAFE_INTEGER ||
      typeof written !== 'boolean'
    )
      return badMessage(this.o.logger, link, 'records-scribed', 'bad-relay-message')
    this.delegated.answered(link.memberId, seq, count, written, this.o.clock.now())
  }
}
