/**
 * One client's WebSocket: the current download on connect and on every change, requests and
 * dismissals in, a clear error for anything refused. Bad frames never reach the downloads.
 */
import type { WebSocket } from 'ws'
import type { DownloadService } from '../downloads/service.ts'
import { RefusalError } from '../downloads/errors.ts'
import { TokenBuckets } from '../token-bucket.ts'
import type { Logger } from '../logger.ts'
import type { Clock } from '../clock.ts'
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
  /**
   * A fresh ticket for this socket's user, for the page to carry to another host's node; none
   * for a socket that a ticket let in (server.ts), so a leaked ticket cannot renew itself.
   */
  ticket?: () => { ticket: string; expiresAt: number }
  /** Null while this node holds its quorum; else what to tell the page (server.ts). */
  cutOff: () => CutOff | null
  /** Idle sockets are pinged this often; one that missed the last ping is dropped. */
  pingIntervalMs: number
  /** Frames one socket may send at once, then `framesPerSecond`. */
  frameBurst: number
  framesPerSecond: number
  /** Frames dropped (over the limit) after which the socket is closed with 1008. */
  maxDroppedFrames: number
  clock: Clock
  log: Logger
}

export function serveSocket(ws: WebSocket, userId: string, o: SocketOptions): void {
  const { downloads, log, clock } = o
  const send = (message: ServerMessage) => {
    if (ws.readyState === ws.OPEN) ws.send(encode(message))
  }
  const sendCurrent = () =>
    send({ type: 'download', download: toPublic(downloads.current(userId)) })
  const unsubscribe = downloads.subscribe(userId, (event) =>
    send(
      event.type === 'download' ? { type: 'download', download: toPublic(event.download) } : event,
    ),
  )
  send({ type: 'members', members: o.members() })
  let ticketExpires = 0
  const sendTicket = () => {
    if (!o.ticket) return
    const t = o.ticket()
    ticketExpires = t.expiresAt
    send({ type: 'ticket', ...t })
  }
  sendTicket()
  const cut = o.cutOff()
  if (cut) send({ type: 'cut-off', ...cut })
  sendCurrent()

  let alive = true
  ws.on('pong', () => (alive = true))
  const ping = clock.setInterval(() => {
    if (!alive) return ws.terminate()
    // Renewed once half its life is gone, so the page always holds one that still works.
    if (o.ticket && clock.now() >= ticketExpires - TICKET_TTL_MS / 2) sendTicket()
    alive = false
    ws.ping()
  }, o.pingIntervalMs)

  // One message at a time, in order: a dismiss sent right after a request must see it.
  let queue: Promise<void> = Promise.resolve()
  const frames = new TokenBuckets({
    burst: o.frameBurst,
    intervalMs: 1000 / o.framesPerSecond,
    clock,
  })
  let dropped = 0
  let toldAt = -Infinity
  ws.on('message', (data, isBinary) => {
    // Frames still in flight after the close frame are not read.
    if (ws.readyState !== ws.OPEN) return
    if (frames.take('socket') > 0) {
      // Past the limit a frame is dropped unread; a socket that keeps on is closed.
      if (++dropped >= o.maxDroppedFrames) {
        log.warn('socket-flood', { user: userId, dropped })
        return ws.close(1008, 'Too many messages')
      }
      if (clock.now() - toldAt >= 1000) {
        toldAt = clock.now()
        send({ type: 'error', message: 'Too many messages; slow down.' })
      }
      return
    }
    const parsed = parseClientMessage(data, isBinary)
    if (!parsed.ok) return send({ type: 'error', message: parsed.error })
    const message = parsed.message
    const type = message.type
    queue = queue.then(async () => {
      try {
        if (message.type === 'request') await downloads.request(userId, message.params)
        // Nothing to dismiss still gets an answer: the (empty) current state.
        else if (!(await downloads.dismiss(userId))) sendCurrent()
      } catch (err) {
        if (!(err instanceof RefusalError)) {
          log.warn('refused', { user: userId, type, error: (err as Error).message })
        }
        send({ type: 'error', message: (err as Error).message })
      }
    })
  })
  ws.on('error', (err) => log.warn('socket-error', { user: userId, error: err.message }))
  ws.on('close', () => {
    clock.clearInterval(ping)
    unsubscribe()
  })
}
