/**
 * The status page's socket (`/status/ws`): the cluster's status on connect and twice a second
 * after, while the page is open. Nothing comes from the page but pongs; it needs no session,
 * since it shows nothing of any user.
 */
import type { WebSocket } from 'ws'
import type { Clock } from '../clock.ts'
import type { ClusterStatus } from '../cluster-status.ts'
import type { Logger } from '../logger.ts'

export const STATUS_INTERVAL_MS = 500

export function serveStatusSocket(
  ws: WebSocket,
  status: () => Promise<ClusterStatus>,
  clock: Clock,
  log: Logger,
): void {
  let sending = false
  const send = () => {
    // A slow round of peers' answers is not stacked under the next one.
    if (sending || ws.readyState !== ws.OPEN) return
    sending = true
    status()
      .then((s) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'status', status: s }))
      })
      .catch((err: Error) => log.warn('status-failed', { error: err.message }))
      .finally(() => (sending = false))
  }
  send()
  const timer = clock.setInterval(send, STATUS_INTERVAL_MS)
  // The page sends nothing: a frame from it is ignored, a flood closes it.
  let frames = 0
  ws.on('message', () => {
    if (++frames > 100) ws.close(1008, 'This socket takes no messages')
  })
  ws.on('error', () => {})
  ws.on('close', () => clock.clearInterval(timer))
}
