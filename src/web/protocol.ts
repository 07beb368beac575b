/**
 * The WebSocket protocol, both directions. Client frames are parsed here into typed messages
 * or rejected with a reason; nothing deeper ever sees a raw frame. What goes to a client is an
 * explicit allow-list of fields, so a field added to the record never leaks by default.
 */
import type { DownloadView } from '../downloads/service.ts'
import type { RefusalCode } from '../downloads/errors.ts'
import { checkParams, type Params } from '../store/record.ts'

export type ClientMessage =
  | { type: 'request'; params: Params }
  | { type: 'dismiss' }
  /** Whether the node still answers: a paused or hung node keeps its socket open, silent. */
  | { type: 'ping' }

/** Where a ready download's file is served; only the web layer knows this route. */
export const DOWNLOADS_PATH = '/downloads/'

/** A record as a client sees it (README, "A record as the client sees it"). */
export interface PublicDownload {
  id: string
  userId: string
  state: DownloadView['state']
  progress: number
  /** When the worker measured `progress` (ms since the epoch), while it runs. */
  progressAt?: number
  /**
   * While `progress` is a value held after a failover, the progress the cluster holds saved
   * (the checkpoint the new owner resumed from, or a later one).
   */
  savedProgress?: number
  fileUrl: string | null
  /** The last error: the download's failure once it is `error`, or what a retry follows. */
  error: string | null
  /** What was asked for (`{}` when nothing was). */
  params: Params
  /** The attempt running or waiting (1 for the first), and how many it may take in all. */
  attempt: number
  attempts: number
  /** While a retry waits for its backoff: when it starts (ms since the epoch). */
  retryAt: number | null
  owner: string
  ownerName: string
  epoch: number
  createdAt: number
  updatedAt: number
  finishedAt: number | null
  expiresAt: number
}

/** A live member as the page sees it: where it can reconnect when its node dies. */
export interface PublicMember {
  id: string
  name: string
  url: string
  status: string
}

/** What a node cut off from its cluster tells its pages: why, and where else to go. */
export interface CutOff {
  message: string
  /** The members it cannot reach (they may still hold the majority). */
  members: PublicMember[]
}

export type ServerMessage =
  | { type: 'download'; download: PublicDownload | null }
  | { type: 'error'; message: string; code?: RefusalCode }
  | { type: 'members'; members: PublicMember[] }
  /** What the page presents to a node on another host, where its cookie is not sent. */
  | { type: 'ticket'; ticket: string; expiresAt: number }
  /** This node cannot act for its cluster (cluster/quorum.ts): the page should move on. */
  | { type: 'cut-off'; message: string; members: PublicMember[] }
  /** It can again: a page that stayed on it (none of the members answered) carries on here. */
  | { type: 'cut-off-ended' }
  /** The answer to a `ping`, at once. */
  | { type: 'pong' }

export const CLIENT_TYPES = ['request', 'dismiss', 'ping'] as const

export function parseClientMessage(
  data: Buffer | ArrayBuffer | Buffer[],
  isBinary: boolean,
): { ok: true; message: ClientMessage } | { ok: false; error: string } {
  if (isBinary) return { ok: false, error: 'Binary frames are not accepted; send JSON text.' }
  const text = Array.isArray(data)
    ? Buffer.concat(data).toString('utf8')
    : Buffer.from(data as ArrayBuffer).toString('utf8')
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { ok: false, error: 'Malformed JSON.' }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: 'A message must be a JSON object with a "type".' }
  }
  const type = (value as { type?: unknown }).type
  if (type === undefined)
    return {
      ok: false,
      error: `A message must be a JSON object with a "type": one of ${CLIENT_TYPES.join(', ')}.`,
    }
  if (type === 'request') {
    const params = checkParams((value as { params?: unknown }).params)
    if (!params.ok) return { ok: false, error: params.error }
    return { ok: true, message: { type, params: params.params } }
  }
  if (type === 'dismiss' || type === 'ping') return { ok: true, message: { type } }
  return {
    ok: false,
    error: `Unknown message type ${JSON.stringify(type ?? null).slice(0, 40)}; expected one of: ${CLIENT_TYPES.join(', ')}.`,
  }
}

export function toPublic(d: DownloadView | null): PublicDownload | null {
  if (!d) return null
  const out: PublicDownload = {
    id: d.id,
    userId: d.userId,
    state: d.state,
    progress: d.progress,
    fileUrl: d.state === 'ready' && d.file ? DOWNLOADS_PATH + d.id : null,
    error: d.error,
    params: d.params,
    attempt: d.attempt,
    attempts: d.attempts,
    retryAt: d.retryAt,
    owner: d.owner,
    ownerName: d.ownerName,
    epoch: d.epoch,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
    finishedAt: d.finishedAt,
    expiresAt: d.expiresAt,
  }
  if (d.progressAt !== undefined) out.progressAt = d.progressAt
  if (d.savedProgress !== undefined) out.savedProgress = d.savedProgress
  return out
}

export function encode(message: ServerMessage): string {
  return JSON.stringify(message)
}
