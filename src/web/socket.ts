/**
 * One client's WebSocket: the current download on connect and on every change, requests and
 * dismissals in, a clear error for anything refused. Bad frames never reach the manager.
 */
import type { WebSocket } from 'ws'
import type { DownloadManager } from '../downloads/manager.ts'
import { DownloadConflictError } from '../store/repository.ts'
import type { Logger } from '../logger.ts'
import { encode, parseClientMessage, toPublic, type ServerMessage } from './protocol.ts'

/** Idle sockets are pinged this often; one that missed the last ping is dropped. */
export const PING_INTERVAL_MS = 20_000

export function serveSocket(
  ws: WebSocket,
  userId: string,
  manager: DownloadManager,
  log: Logger,
): void {
  const send = (message: ServerMessage) => {
    if (ws.readyState === ws.OPEN) ws.send(encode(message))
  }
  const unsubscribe = manager.subscribe(userId, (d) =>
    send({ type: 'download', download: toPublic(d) }),
  )
  send({ type: 'download', download: toPublic(manager.current(userId)) })

  let alive = true
  ws.on('pong', () => (alive = true))
  const ping = setInterval(() => {
    if (!alive) return ws.terminate()
    alive = false
    ws.ping()
  }, PING_INTERVAL_MS)
  ping.unref()

  ws.on('message', (data, isBinary) => {
    const parsed = parseClientMessage(data, isBinary)
    if (!parsed.ok) return send({ type: 'error', message: parsed.error })
    const action =
      parsed.message.type === 'request' ? manager.request(userId) : manager.dismiss(userId)
    action.catch((err: Error) => {
      if (!(err instanceof DownloadConflictError)) {
        log.warn('refused', { user: userId, type: parsed.message.type, error: err.message })
      }
      send({ type: 'error', message: err.message })
    })
  })
  ws.on('error', (err) => log.warn('socket-error', { user: userId, error: err.message }))
  ws.on('close', () => {
    clearInterval(ping)
    unsubscribe()
  })
}
