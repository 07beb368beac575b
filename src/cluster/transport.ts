/**
 * The cluster's links, as the protocols above them see them: admitted connections to other
 * nodes, each carrying JSON messages and the log's replication. swarm-transport.ts is the
 * real one (hyperswarm); tests run the protocols over an in-memory one.
 */
import type { EventEmitter } from 'node:events'
import type { Logger } from '../logger.ts'

/** The raw connection under a link, handed to replication; it says when it closes. */
export interface LinkStream {
  once(event: 'close', listener: () => void): void
}

/** An admitted connection to another node. */
export interface Link {
  /** The remote end's key, hex: unique per connection pair. */
  readonly remoteKey: string
  /** Set once the remote node has said who it is (its first heartbeat). */
  memberId: string | null
  /** Sends one message; never throws (a closing link is noticed by membership). */
  send(message: object): void
  /**
   * Sends a message and bytes beside it, untouched by JSON (a file's chunk): the other end
   * receives the message with the bytes as its `data`, a Buffer. Never throws, as `send`.
   */
  sendBytes(message: object, data: Uint8Array): void
  /**
   * Sends one message beside the stream, as a datagram (unreliable, unordered), if the link
   * carries them and the message fits in one; false, and nothing sent, if not. For what is
   * repeated anyway and must not wait behind the stream's queue: heartbeats, which a busy
   * link's replication held back half a second, long enough to look like a dead member.
   */
  datagram(message: object): boolean
  readonly stream: LinkStream
  close(): void
}

export interface TransportEvents {
  open: [link: Link]
  message: [link: Link, message: unknown]
  close: [link: Link]
}

export interface Transport extends EventEmitter<TransportEvents> {
  readonly links: ReadonlySet<Link>
  /** Looks for peers again: peers that joined at the same moment can miss each other. */
  refresh(): void
}

/**
 * Says that a peer's message could not be read and was dropped: the peer, the message's type,
 * and the likely cause. A flood of them (one a heartbeat, or a tick) is held to five lines a
 * minute per peer and type, then a count, by the node's logger (log-repeats.ts).
 */
export function badMessage(
  log: Logger,
  link: Pick<Link, 'remoteKey' | 'memberId'>,
  type: string,
  event: 'bad-message' | 'bad-relay-message' = 'bad-message',
): void {
  log.warn(event, {
    peer: link.remoteKey.slice(0, 12),
    member: link.memberId?.slice(0, 8),
    type,
    message:
      'a peer sent a message this node cannot read; it was dropped. Most often a peer of another version: run one version across the cluster',
  })
}
