/**
 * The clients' WebSockets: the current download on connect and on every change, requests and
 * dismissals in, a clear error for anything refused. Bad frames never reach the downloads.
 *
 * A node holds thousands of idle sockets, so one costs as little as it can: its state is a few
 * fields of a `ClientSocket`, its event handlers are shared by all (they find the client by its
 * socket), one ping sweep serves every socket, and the settings are one object for the node.
 * Only the subscription to the user's download is a closure of its own.
 */
import type { WebSocket } from 'ws'
import type { DownloadEvent, DownloadService } from '../downloads/service.ts'
import { RefusalError } from '../downloads/errors.ts'
import { refill, take, type Bucket } from '../token-bucket.ts'
import type { Logger } from '../logger.ts'
import type { Clock, Timer } from '../clock.ts'
import { TICKET_TTL_MS } from './session.ts'
import {
  encode,
  parseClientMessage,
  toPublic,
  type CutOff,
  type PublicMember,
  type ServerMessage,
} from './protocol.ts'

export interface SocketOptions {
  downloads: DownloadService
  members: () => PublicMember[]
  /** A fresh ticket for a user, for the page to carry to another host's node (session.ts). */
  ticket: (userId: string) => { ticket: string; expiresAt: number }
  /** Null while this node holds its quorum; else what to tell the page (server.ts). */
  cutOff: () => CutOff | null
  /** Sockets are pinged this often; one that missed the last ping is dropped. */
  pingIntervalMs: number
  /** Frames one socket may send at once, then `framesPerSecond`. */
  frameBurst: number
  framesPerSecond: number
  /** Frames dropped (over the limit) after which the socket is closed with 1008. */
  maxDroppedFrames: number
  clock: Clock
  log: Logger
}

/** Each open socket's client, for the shared handlers. */
const clients = new WeakMap<WebSocket, ClientSocket>()

export class ClientSockets {
  private readonly open = new Set<ClientSocket>()
  private readonly sweep: Timer
  private readonly frames: { burst: number; intervalMs: number }

  constructor(readonly o: SocketOptions) {
    this.frames = { burst: o.frameBurst, intervalMs: 1000 / o.framesPerSecond }
    this.sweep = o.clock.setInterval(() => this.ping(), o.pingIntervalMs)
  }

  /**
   * Serves a socket of `userId`. `ticketed`: whether it is given tickets; only a socket its
   * cookie let in is (server.ts), so a leaked ticket dies within its 15 minutes.
   */
  serve(ws: WebSocket, userId: string, ticketed: boolean): void {
    const client = new ClientSocket(
      this,
      ws,
      userId,
      ticketed,
      this.frames.burst,
      this.o.clock.now(),
    )
    clients.set(ws, client)
    this.open.add(client)
    ws.on('message', onMessage)
    ws.on('pong', onPong)
    ws.on('error', onError)
    ws.on('close', onClose)
    client.start()
  }

  /** Every socket: one that did not answer the last ping is dropped, the others pinged. */
  private ping(): void {
    const now = this.o.clock.now()
    for (const client of this.open) client.ping(now)
  }

  /** How many sockets are open. */
  get size(): number {
    return this.open.size
  }

  /** Every open socket. */
  *all(): Generator<WebSocket> {
    for (const client of this.open) yield client.ws
  }

  takeFrame(bucket: Bucket): number {
    return take(refill(bucket, this.o.clock.now(), this.frames), this.frames.intervalMs)
  }

  closed(client: ClientSocket): void {
    this.open.delete(client)
  }

  /** Stops the ping sweep (the sockets are closed by their server). */
  stop(): void {
    this.o.clock.clearInterval(this.sweep)
  }
}

/** A socket's state: a few fields, as thousands of idle sockets each hold one. */
class ClientSocket implements Bucket {
  private alive = true
  private ticketExpires = 0
  private dropped = 0
  /** When the socket was last told it sends too much (0: never). */
  private toldAt = 0
  /** One message at a time, in order: a dismiss sent right after a request must see it. */
  private queue: Promise<void> | null = null

  constructor(
    private readonly hub: ClientSockets,
    readonly ws: WebSocket,
    private readonly userId: string,
    private readonly ticketed: boolean,
    /** The socket's frame bucket (token-bucket.ts), kept in its own fields. */
    public tokens: number,
    public at: number,
  ) {}

  start(): void {
    const { o } = this.hub
    o.downloads.subscribe(this.userId, this)
    this.send({ type: 'members', members: o.members() })
    this.sendTicket()
    // The download before the cut-off: a page that leaves at once still shows it meanwhile.
    this.sendCurrent()
    const cut = o.cutOff()
    if (cut) this.send({ type: 'cut-off', ...cut })
  }

  private send(message: ServerMessage): void {
    this.sendText(encode(message))
  }

  private sendText(text: string): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(text)
  }

  private sendCurrent(): void {
    const current = this.hub.o.downloads.current(this.userId)
    this.send({ type: 'download', download: toPublic(current) })
  }

  private sendTicket(): void {
    if (!this.ticketed) return
    const t = this.hub.o.ticket(this.userId)
    this.ticketExpires = t.expiresAt
    this.send({ type: 'ticket', ...t })
  }

  onDownloadEvent(event: DownloadEvent): void {
    this.sendText(encodeEvent(event))
  }

  ping(now: number): void {
    if (!this.alive) return void this.ws.terminate()
    // Renewed once half its life is gone, so the page always holds one that still works.
    if (this.ticketed && now >= this.ticketExpires - TICKET_TTL_MS / 2) this.sendTicket()
    this.alive = false
    this.ws.ping()
  }

  pong(): void {
    this.alive = true
  }

  message(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    const { o } = this.hub
    // Frames still in flight after the close frame are not read.
    if (this.ws.readyState !== this.ws.OPEN) return
    if (this.hub.takeFrame(this) > 0) {
      // Past the limit a frame is dropped unread; a socket that keeps on is closed.
      if (++this.dropped >= o.maxDroppedFrames) {
        o.log.warn('socket-flood', { user: this.userId, dropped: this.dropped })
        return this.ws.close(1008, 'Too many messages')
      }
      if (this.toldAt === 0 || o.clock.now() - this.toldAt >= 1000) {
        this.toldAt = o.clock.now()
        this.send({ type: 'error', message: 'Too many messages; slow down.' })
      }
      return
    }
    const parsed = parseClientMessage(data, isBinary)
    if (!parsed.ok) return this.send({ type: 'error', message: parsed.error })
    const message = parsed.message
    // At once, not behind a request still being written: the page asks whether the node's
    // loop turns, not whether its log is quick.
    if (message.type === 'ping') return this.sendText(PONG)
    this.queue = (this.queue ?? Promise.resolve()).then(async () => {
      try {
        if (message.type === 'request') await o.downloads.request(this.userId, message.params)
        // Nothing to dismiss still gets an answer: the (empty) current state.
        else if (!(await o.downloads.dismiss(this.userId))) this.sendCurrent()
      } catch (err) {
        if (!(err instanceof RefusalError)) {
          const error = (err as Error).message
          o.log.warn('refused', {
            user: this.userId,
            type: message.type,
            error,
            message: 'the request failed for a reason other than a refusal; the user was told',
          })
        }
        // A refusal says which (the page shows a conflict as the other tab's download).
        this.send({
          type: 'error',
          message: (err as Error).message,
          ...(err instanceof RefusalError && { code: err.code }),
        })
      }
    })
  }

  error(err: Error): void {
    this.hub.o.log.warn('socket-error', { user: this.userId, error: err.message })
  }

  close(): void {
    this.hub.o.downloads.unsubscribe(this.userId, this)
    this.hub.closed(this)
  }
}

const PONG = encode({ type: 'pong' })

/** An event goes to every socket of its user here: encoded once, for all of them. */
const encoded = new WeakMap<DownloadEvent, string>()
function encodeEvent(event: DownloadEvent): string {
  let text = encoded.get(event)
  if (text === undefined) {
    const message: ServerMessage =
      event.type === 'download' ? { type: 'download', download: toPublic(event.download) } : event
    encoded.set(event, (text = encode(message)))
  }
  return text
}

// Shared by every socket: `this` is the socket, its client is found by it.
function onMessage(this: WebSocket, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) {
  clients.get(this)?.message(data, isBinary)
}
function onPong(this: WebSocket) {
  clients.get(this)?.pong()
}
function onError(this: WebSocket, err: Error) {
  clients.get(this)?.error(err)
}
function onClose(this: WebSocket) {
  clients.get(this)?.close()
  clients.delete(this)
}
