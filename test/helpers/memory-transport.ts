/**
 * An in-memory transport: links between named endpoints in one process, with messages
 * round-tripped through JSON and delivered on a later microtask, as a network would. Lets the
 * cluster's protocols (heartbeats, relay, log adverts) run in unit tests without sockets.
 */
import { EventEmitter } from 'node:events'
import type { Link, Transport, TransportEvents } from '../../src/cluster/transport.ts'

export class MemoryTransport extends EventEmitter<TransportEvents> implements Transport {
  readonly links = new Set<Link>()
  refreshes = 0
  /** While set, nothing this end sends arrives: a process that stopped (SIGKILL, SIGSTOP). */
  muted = false

  constructor(readonly name: string) {
    super()
  }

  refresh(): void {
    this.refreshes++
  }
}

/** Connects two endpoints; returns a function that cuts the link (both ends see it close). */
export function connect(a: MemoryTransport, b: MemoryTransport): () => void {
  const stream = new EventEmitter()
  let open = true
  // A link held by `from`: what it sends arrives at `to`, on the link `to` holds.
  const end = (from: MemoryTransport, to: MemoryTransport, received: () => Link): Link => ({
    remoteKey: to.name,
    memberId: null,
    stream,
    send(message) {
      if (!open || from.muted) return
      const copy = JSON.parse(JSON.stringify(message)) as unknown
      queueMicrotask(() => {
        if (open) to.emit('message', received(), copy)
      })
    },
    sendBytes(message, data) {
      if (!open || from.muted) return
      const copy = { ...(JSON.parse(JSON.stringify(message)) as object), data: Buffer.from(data) }
      queueMicrotask(() => {
        if (open) to.emit('message', received(), copy)
      })
    },
    datagram(message) {
      this.send(message)
      return true
    },
    close: () => cut(),
  })
  const here: Link = end(a, b, () => there)
  const there: Link = end(b, a, () => here)
  const cut = () => {
    if (!open) return
    open = false
    a.links.delete(here)
    b.links.delete(there)
    a.emit('close', here)
    b.emit('close', there)
    stream.emit('close')
  }
  a.links.add(here)
  b.links.add(there)
  a.emit('open', here)
  b.emit('open', there)
  return cut
}
