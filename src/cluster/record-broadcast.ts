/**
 * Records beside the log: every operation this node writes goes to every peer at once over the
 * cluster links, and a peer's operations are merged into this node's table as they arrive,
 * ahead of the log. The table's merge is commutative and idempotent (store/record-table.ts), so
 * when the log brings the same operation later nothing changes; what changes is that a request
 * reaches its owner, and an outcome the user's page, within a link's latency rather than after
 * the log's replication and linearisation (hundreds of milliseconds on a busy node, seconds in
 * a burst). The log stays the record: a node restarts from it alone, and only an operation that
 * is already in its writer's log is ever sent.
 *
 * What the log alone would not lose: a peer that dies after its operation reached this node
 * but before its log replicated it. So each peer's operations are kept until the log brings
 * them (or for `keepMs`), and once the peer is declared dead (and this node may act for its
 * cluster) those the log has not brought are written to it here; a copy the log already
 * holds would change nothing.
 */
import type { Logger } from '../logger.ts'
import type { Clock } from '../clock.ts'
import { parseOp, type RecordOp } from '../store/record.ts'
import type { Link, Transport } from './transport.ts'

/** The part of the record log this needs (store/record-log.ts). */
export interface BroadcastLog {
  on(event: 'written', listener: (key: string, op: RecordOp) => void): unknown
  on(event: 'landed', listener: (ops: RecordOp[]) => void): unknown
  mergeEarly(key: string, ops: RecordOp[]): boolean
  append(op: RecordOp): Promise<void>
}

export interface RecordBroadcastOptions {
  transport: Transport
  log: BroadcastLog
  clock: Clock
  /** How long a peer's operations are kept, to be written here if it dies. */
  keepMs: number
  /** Whether this node may write for its cluster now (its quorum, quorum-watch.ts). */
  mayAct: () => boolean
  logger: Logger
}

/** A message naming more operations than this is refused. */
const MAX_OPS_PER_MESSAGE = 10_000
const LOG_KEY = /^[0-9a-f]{64}$/

export class RecordBroadcast {
  /** Operations written here this turn, by base key: sent as one message per base. */
  private outgoing = new Map<string, RecordOp[]>()
  /** Peers' operations the log has not brought yet, by `opKey`, oldest first. */
  private readonly kept = new Map<string, { member: string; at: number; op: RecordOp }>()
  readonly stats = { sent: 0, received: 0, carried: 0 }

  constructor(private readonly o: RecordBroadcastOptions) {
    o.log.on('written', (key, op) => this.queue(key, op))
    o.log.on('landed', (ops) => {
      if (this.kept.size > 0) for (const op of ops) this.kept.delete(opKey(op))
    })
    o.transport.on('message', (link, m) => this.onMessage(link, m))
  }

  /** A member was declared dead: what it sent lately that the log lacks is written here. */
  memberGone(memberId: string): void {
    const since = this.o.clock.now() - this.o.keepMs
    const ops: RecordOp[] = []
    for (const [key, k] of this.kept) {
      if (k.member !== memberId) continue
      this.kept.delete(key)
      if (k.at >= since) ops.push(k.op)
    }
    if (ops.length === 0 || !this.o.mayAct()) return
    this.stats.carried += ops.length
    this.o.logger.info('records-carried', { from: memberId.slice(0, 8), ops: ops.length })
    for (const op of ops)
      this.o.log.append(op).catch((err: Error) =>
        this.o.logger.warn('records-carry-failed', {
          from: memberId.slice(0, 8),
          error: err.message,
        }),
      )
  }

  private queue(key: string, op: RecordOp): void {
    const first = this.outgoing.size === 0
    const ops = this.outgoing.get(key)
    if (ops) ops.push(op)
    else this.outgoing.set(key, [op])
    // One message per turn of the event loop, as the log's group commit writes one batch.
    if (first) setImmediate(() => this.flush())
  }

  private flush(): void {
    const outgoing = this.outgoing
    this.outgoing = new Map()
    for (const [log, ops] of outgoing)
      for (const link of this.o.transport.links) {
        link.send({ type: 'records', log, ops })
        this.stats.sent += ops.length
      }
  }

  private onMessage(link: Link, raw: unknown): void {
    const m = raw as { type?: unknown; log?: unknown; ops?: unknown } | null
    if (m?.type !== 'records') return
    const ops =
      Array.isArray(m.ops) && m.ops.length <= MAX_OPS_PER_MESSAGE ? m.ops.map(parseOp) : null
    if (typeof m.log !== 'string' || !LOG_KEY.test(m.log) || !ops || ops.includes(null))
      return this.o.logger.warn('bad-relay-message', { peer: link.remoteKey.slice(0, 12) })
    const valid = ops as RecordOp[]
    this.stats.received += valid.length
    // A peer on another log: its log (or its carry-over to ours) brings them.
    if (!this.o.log.mergeEarly(m.log, valid) || !link.memberId) return
    const now = this.o.clock.now()
    for (const op of valid) {
      const key = opKey(op)
      this.kept.delete(key) // kept in arrival order, so the oldest are first
      this.kept.set(key, { member: link.memberId, at: now, op })
    }
    for (const [key, k] of this.kept) {
      if (k.at >= now - this.o.keepMs) break
      this.kept.delete(key)
    }
  }
}

/** Which write an operation is: the same key whether it came beside the log or through it. */
function opKey(op: RecordOp): string {
  return op.type === 'put'
    ? `put ${op.download.id} ${op.download.epoch} ${op.download.version}`
    : `remove ${op.id}`
}
