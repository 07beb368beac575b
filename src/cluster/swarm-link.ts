/**
 * One connection of the swarm made a link: kept alive and timed out, refused if the peer speaks
 * an older protocol or cannot prove the cluster secret, then carrying one protomux channel of
 * JSON messages beside the log's replication, and datagrams beside both (Link.datagram).
 */
import Protomux from 'protomux'
import c from 'compact-encoding'
import { proof, verifyProof } from './admission.ts'
import { json, jsonText } from './json-codec.ts'
import { badMessage, type Link } from './transport.ts'
import { bugFields, type Logger } from '../logger.ts'

/** A dead link is noticed by the socket itself after this (membership is much faster). */
const KEEP_ALIVE_MS = 1000
/**
 * The largest message sent as a datagram: one UDP packet under a 1500-byte MTU once UDX's and
 * the secret stream's headers are added (udx-native also cuts what it receives at 2 KiB).
 */
const MAX_DATAGRAM_BYTES = 1400
const LINK_TIMEOUT_MS = 3000
/**
 * The cluster protocol's version. v2 carries the log advert in its own message and records
 * without `fileUrl`; v3 records carry a job's `params` and its attempts, which a v2 node
 * would drop when it rewrote one; v4 sends heartbeats as datagrams, which a v3 node would not
 * hear; v5 writes several operations to one block of the log (store/op-pack.ts), which a v4
 * node would drop; v6 sends records as their write starts and confirms them once written
 * (cluster/record-broadcast.ts), which a v5 node would take as written; v7 hands a node's
 * writes to one scribe (cluster/scribe.ts), which a v6 node would neither write nor answer;
 * v8 copies files over the links (cluster/file-transfer.ts) in a message of bytes a v7 node
 * cannot read. Nodes of different versions must not link (see README, Upgrading).
 */
const PROTOCOL = 'pdf-cluster/v8'
const OLDER_PROTOCOLS = [
  'pdf-cluster/v1',
  'pdf-cluster/v2',
  'pdf-cluster/v3',
  'pdf-cluster/v4',
  'pdf-cluster/v5',
  'pdf-cluster/v6',
  'pdf-cluster/v7',
]

/** A JSON message with bytes beside it (Link.sendBytes): delivered as the message plus `data`. */
const withBytes = {
  preencode(state: unknown, m: { head: object; data: Uint8Array }) {
    json.preencode(state, m.head)
    c.uint8array.preencode(state, m.data)
  },
  encode(state: unknown, m: { head: object; data: Uint8Array }) {
    json.encode(state, m.head)
    c.uint8array.encode(state, m.data)
  },
  decode(state: unknown): unknown {
    const head: unknown = json.decode(state)
    const data = Buffer.from(c.uint8array.decode(state))
    return typeof head === 'object' && head !== null ? { ...head, data } : null
  },
}

export interface NoiseStream {
  handshakeHash: Buffer
  isInitiator: boolean
  remotePublicKey: Buffer
  setKeepAlive(ms: number): void
  setTimeout(ms: number): void
  on(event: string, f: (...args: any[]) => void): void
  once(event: 'close', f: () => void): void
  destroy(err?: Error): void
  /** The connection under the encryption: UDX streams carry datagrams (`trySend`). */
  rawStream?: { trySend?: unknown } | null
  trySend(bytes: Buffer): void
}

export interface LinkOptions {
  /** The admission key (admission.ts). */
  key: Buffer
  /** Tests only: speak this protocol version instead of the current one. */
  protocol?: string
  log: Logger
  opened(link: Link): void
  message(link: Link, message: unknown): void
  closed(link: Link): void
}

export function openLink(conn: NoiseStream, o: LinkOptions): void {
  conn.on('error', () => {})
  conn.setKeepAlive(KEEP_ALIVE_MS)
  conn.setTimeout(LINK_TIMEOUT_MS)
  const remoteKey = conn.remotePublicKey.toString('hex')
  let link: Link | null = null
  // Never throw into the connection: protomux would tear it down, replication included.
  const deliver = (m: unknown) => {
    if (!link) return
    try {
      o.message(link, m)
    } catch (err) {
      o.log.error('message-failed', {
        peer: remoteKey.slice(0, 12),
        member: link.memberId?.slice(0, 8),
        type:
          typeof (m as { type?: unknown } | null)?.type === 'string'
            ? (m as { type: string }).type
            : undefined,
        ...bugFields(err),
        message:
          "handling a peer's message failed (a bug: please report this line); the message was dropped",
      })
    }
  }
  const mux = Protomux.from(conn)
  for (const older of OLDER_PROTOCOLS.filter((p) => p !== o.protocol)) {
    mux.pair({ protocol: older }, () => {
      o.log.warn('peer-refused', {
        peer: remoteKey.slice(0, 12),
        reason: `it speaks ${older}, an older version: run one version across the cluster`,
      })
      conn.destroy()
    })
  }
  const channel = mux.createChannel({
    protocol: o.protocol ?? PROTOCOL,
    handshake: c.fixed32,
    onopen: (remoteProof) => {
      if (!verifyProof(o.key, conn.handshakeHash, conn.isInitiator, remoteProof)) {
        o.log.warn('peer-refused', {
          peer: remoteKey.slice(0, 12),
          reason: 'no proof of the cluster secret',
        })
        conn.destroy()
        return
      }
      link = {
        remoteKey,
        memberId: null,
        stream: conn,
        send: (m) => {
          try {
            message.send(m)
          } catch {
            // A closing link: membership will notice the silence.
          }
        },
        sendBytes: (head, data) => {
          try {
            bytes.send({ head, data })
          } catch {
            // As send.
          }
        },
        datagram: (m) => {
          if (!conn.rawStream?.trySend) return false
          const bytes = Buffer.from(jsonText(m))
          if (bytes.byteLength > MAX_DATAGRAM_BYTES) return false
          try {
            conn.trySend(bytes)
          } catch {
            // As send: a closing link is noticed by membership.
          }
          return true
        },
        close: () => conn.destroy(),
      }
      o.opened(link)
    },
    onclose: () => conn.destroy(),
  })
  if (!channel) return conn.destroy()
  const message = channel.addMessage({ encoding: json, onmessage: deliver })
  const bytes = channel.addMessage({ encoding: withBytes, onmessage: deliver })
  // Datagrams come to the same place as the channel's messages, once the peer has proved the
  // secret; the secret stream has authenticated and decrypted them.
  conn.on('message', (bytes: Buffer) => {
    if (!link) return
    let m: unknown
    try {
      m = JSON.parse(bytes.toString())
    } catch {
      return badMessage(o.log, { remoteKey, memberId: link.memberId }, 'datagram (not JSON)')
    }
    deliver(m)
  })
  channel.open(proof(o.key, conn.handshakeHash, conn.isInitiator))
  conn.once('close', () => {
    if (link) o.closed(link)
  })
}
