/**
 * The idle timer of an HTTP connection (a response the client stopped reading, say), armed at
 * its first request rather than by `server.setTimeout` at connect: a WebSocket's connection
 * never makes a request, and the timer object a cleared timeout leaves on its socket was an
 * eighth of what an idle socket cost. A socket is pinged instead (socket.ts).
 */
import type { IncomingMessage, Server } from 'node:http'
import type { Socket } from 'node:net'

const idleTimeouts = new WeakMap<Server, number>()
const armed = new WeakSet<Socket>()

/** The idle timeout of this server's connections, armed by `armIdleTimer`. */
export function setIdleTimeout(server: Server, ms: number): void {
  idleTimeouts.set(server, ms)
}

/** At every request: Node sets the keep-alive timeout between requests, so ours is set again. */
export function armIdleTimer(req: IncomingMessage): void {
  const socket = req.socket
  const ms = idleTimeouts.get((socket as Socket & { server: Server }).server)
  if (ms === undefined || socket.timeout === ms) return
  // Its listener once: one per request piled up on a kept-alive connection.
  if (!armed.has(socket)) {
    armed.add(socket)
    socket.on('timeout', destroyOnTimeout)
  }
  socket.setTimeout(ms)
}

function destroyOnTimeout(this: Socket): void {
  this.destroy()
}
