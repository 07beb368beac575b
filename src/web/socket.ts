/**
 * One client's WebSocket: the current download on connect and on every change, requests and
 * dismissals in, a clear error for anything refused. Bad frames never reach the manager.
 */
import type { WebSocket } from 'ws'
import type { DownloadManager } from '../downloads/manager.ts'
import { DownloadConflictError } from '../store/repository.ts'
import type { Logger } from '../logger.ts'
import {
  encode,
  parseClientMessage,
  toPublic,
  type PublicMember,
  type ServerMessage,
} from './protocol.ts'

/** Idle sockets are pinged this often; one that missed the last ping is dropped. */
export const PING_INTERVAL_MS = 20_000

export function serveSocket(
  ws: WebSocket,
  userId: string,
  manager: DownloadManager,
  members: () => PublicMember[],
  log: Logger,
): void {
  const send = (message: ServerMessage) => {
    if (ws.readyState === ws.OPEN) ws.send(encode(message))
  }
  const unsubscribe = manager.subscribe(userId, (event) =>
    send(
      event.type === 'download' ? { type: 'download', download: toPublic(event.download) } : event,
    ),
  )
  send({ type: 'members', members: members() })
  send({ type: 'download', download: toPublic(manager.current(userId)) })

  let alive = true
  ws.on('pong', () => (alive = true))
  const ping = setInterval(() => {
    if (!alive) return ws.terminate()
    alive = false
    ws.ping()
  }, PING_INTERVAL_MS)
  ping.unref()

  // One message at a time, in order: a dismiss sent right after a request must see it.
  let queue: Promise<void> = Promise.resolve()
  ws.on('message', (data, isBinary) => {
    const parsed = parseClientMessage(data, isBinary)
    if (!parsed.ok) return send({ type: 'error', message: parsed.error })
    const type = parsed.message.type
    queue = queue.then(async () => {
      try {
        if (type === 'request') await manager.request(userId)
        // Nothing to dismiss still gets an answer: the (empty) current state.
        else if (!(await manager.dismiss(userId)))
          send({ type: 'download', download: toPublic(manager.current(userId)) })
      } catch (err) {
        if (!(err instanceof DownloadConflictError)) {
          log.warn('refused', { user: userId, type, error: (err as Error).message })
        }
        send({ type: 'error', message: (err as Error).message })
      }
    })
  })
  ws.on('error', (err) => log.warn('socket-error', { user: userId, error: err.message }))
  ws.on('close', () => {
    clearInterval(ping)
    unsubscribe()
  })
}
