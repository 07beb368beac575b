/**
 * Live progress between nodes, the role Phoenix PubSub plays in the seed: the worker's node
 * sends each progress tick straight to the nodes that hold a socket of that user, over the
 * cluster links, without waiting for log replication. Each node tells its peers which users
 * it wants (interest), so a user's ticks never reach a node with none of that user's sockets.
 * The log stays the source of truth; these messages only make the bar move smoothly.
 *
 * It also carries checkpoints beside the log: a worker sends each one to the members that
 * would take its download over (downloads/checkpoint-copies.ts), which is what lets the log
 * take a checkpoint only every few seconds.
 */
import { EventEmitter } from 'node:events'
import type { Logger } from '../logger.ts'
import { parseCheckpoint, type Checkpoint } from '../store/record.ts'
import { badMessage, type Link, type Transport } from './transport.ts'

export interface ProgressTick {
  id: string
  userId: string
  epoch: number
  progress: number
  /** Wall-clock ms when the worker measured it. */
  at: number
}

/** A worker's checkpoint, sent to the members that would take its download over. */
export interface RelayedCheckpoint {
  id: string
  userId: string
  /** The epoch of the worker that reached it: a copy from a replaced owner is worth nothing. */
  epoch: number
  progress: number
  checkpoint: Checkpoint | null
}

export interface RelayEvents {
  progress: [event: ProgressTick]
  checkpoint: [copy: RelayedCheckpoint]
}

const ID = /^[A-Za-z0-9_-]{1,64}$/
/** An interest message naming more users than this is refused. */
const MAX_USERS_PER_MESSAGE = 100_000

export class Relay extends EventEmitter<RelayEvents> {
  /** Users with sockets on this node, with how many. */
  private readonly local = new Map<string, number>()
  /** Users each peer wants to hear about. */
  private readonly remote = new Map<Link, Set<string>>()
  readonly stats = { sent: 0, received: 0, checkpointsSent: 0, checkpointsReceived: 0 }

  constructor(
    private readonly transport: Transport,
    private readonly log: Logger,
  ) {
    super()
    transport.on('open', (link) =>
      link.send({ type: 'interest', replace: true, add: [...this.local.keys()] }),
    )
    transport.on('close', (link) => this.remote.delete(link))
    transport.on('message', (link, m) => this.onMessage(link, m))
  }

  /** A socket of this user opened here. */
  watch(userId: string): void {
    const n = (this.local.get(userId) ?? 0) + 1
    this.local.set(userId, n)
    if (n === 1) this.broadcast({ type: 'interest', add: [userId] })
  }

  /** A socket of this user closed here. */
  unwatch(userId: string): void {
    const n = (this.local.get(userId) ?? 0) - 1
    if (n > 0) return void this.local.set(userId, n)
    this.local.delete(userId)
    this.broadcast({ type: 'interest', remove: [userId] })
  }

  /** Whether a socket of this user is open here. */
  isWatching(userId: string): boolean {
    return this.local.has(userId)
  }

  /** How many peers have said they want this user's ticks. */
  watchers(userId: string): number {
    let n = 0
    for (const users of this.remote.values()) if (users.has(userId)) n++
    return n
  }

  /** Sends a tick to the peers that want this user, and to nobody else. */
  publish(event: ProgressTick): void {
    for (const [link, users] of this.remote) {
      if (!users.has(event.userId)) continue
      link.send({ type: 'progress', ...event })
      this.stats.sent++
    }
  }

  /**
   * Sends a checkpoint to these members (by id) over their links; returns to how many it was
   * sent (a link that takes it, not an acknowledgement: the log's fallback covers a copy lost).
   */
  sendCheckpoint(memberIds: readonly string[], copy: RelayedCheckpoint): number {
    let sent = 0
    for (const link of this.transport.links) {
      if (!link.memberId || !memberIds.includes(link.memberId)) continue
      link.send({ type: 'checkpoint', ...copy })
      sent++
    }
    this.stats.checkpointsSent += sent
    return sent
  }

  private broadcast(message: object): void {
    for (const link of this.transport.links) link.send(message)
  }

  private onMessage(link: Link, raw: unknown): void {
    if (typeof raw !== 'object' || raw === null) return
    const m = raw as Record<string, unknown>
    if (m.type === 'interest') return this.onInterest(link, m)
    if (m.type === 'checkpoint') return this.onCheckpoint(link, m)
    if (m.type !== 'progress') return
    const event = parseProgress(m)
    if (!event) return badMessage(this.log, link, 'progress', 'bad-relay-message')
    this.stats.received++
    this.emit('progress', event)
  }

  private onCheckpoint(link: Link, m: Record<string, unknown>): void {
    const copy = parseRelayedCheckpoint(m)
    if (!copy) return badMessage(this.log, link, 'checkpoint', 'bad-relay-message')
    this.stats.checkpointsReceived++
    this.emit('checkpoint', copy)
  }

  private onInterest(link: Link, m: Record<string, unknown>): void {
    const add = userList(m.add)
    const remove = userList(m.remove)
    if (add === null || remove === null)
      return badMessage(this.log, link, 'interest', 'bad-relay-message')
    let users = this.remote.get(link)
    if (!users || m.replace === true) this.remote.set(link, (users = new Set()))
    for (const u of add) users.add(u)
    for (const u of remove) users.delete(u)
  }
}

function userList(v: unknown): string[] | null {
  if (v === undefined) return []
  if (!Array.isArray(v) || v.length > MAX_USERS_PER_MESSAGE) return null
  return v.every((u) => typeof u === 'string' && ID.test(u)) ? (v as string[]) : null
}

function parseProgress(m: Record<string, unknown>): ProgressTick | null {
  const { id, userId, epoch, progress, at } = m
  if (typeof id !== 'string' || !ID.test(id) || typeof userId !== 'string' || !ID.test(userId))
    return null
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch)) return null
  if (typeof progress !== 'number' || !(progress >= 0 && progress <= 100)) return null
  if (typeof at !== 'number' || !Number.isFinite(at)) return null
  return { id, userId, epoch, progress, at }
}

/** A checkpoint as the log would take it, or null: nothing a peer sends is trusted. */
function parseRelayedCheckpoint(m: Record<string, unknown>): RelayedCheckpoint | null {
  const { id, userId, epoch, progress } = m
  if (typeof id !== 'string' || !ID.test(id) || typeof userId !== 'string' || !ID.test(userId))
    return null
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch)) return null
  if (typeof progress !== 'number' || !(progress >= 0 && progress <= 100)) return null
  const checkpoint = parseCheckpoint(m.checkpoint)
  if (checkpoint === undefined) return null
  return { id, userId, epoch, progress, checkpoint }
}
