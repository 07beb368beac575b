/**
 * The WebSocket protocol, both directions. Client frames are parsed here into typed messages
 * or rejected with a reason; nothing deeper ever sees a raw frame.
 */
import type { Download } from '../store/record.ts'

export type ClientMessage = { type: 'request' } | { type: 'dismiss' }

/** What a client sees of a record: everything but the worker's internal state. */
export type PublicDownload = Omit<Download, 'checkpoint' | 'version' | 'file'> & {
  /** When the worker measured `progress` (ms since the epoch), while it runs. */
  progressAt?: number
}

/** A live member as the page sees it: where it can reconnect when its node dies. */
export interface PublicMember {
  id: string
  name: string
  url: string
  status: string
}

export type ServerMessage =
  | { type: 'download'; download: PublicDownload | null }
  | { type: 'error'; message: string }
  | { type: 'members'; members: PublicMember[] }

export const CLIENT_TYPES = ['request', 'dismiss'] as const

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
  if (type === 'request' || type === 'dismiss') return { ok: true, message: { type } }
  return {
    ok: false,
    error: `Unknown message type ${JSON.stringify(type ?? null).slice(0, 40)}; expected one of: ${CLIENT_TYPES.join(', ')}.`,
  }
}

export function toPublic(d: (Download & { progressAt?: number }) | null): PublicDownload | null {
  if (!d) return null
  const { checkpoint: _c, version: _v, file: _f, ...rest } = d
  return rest
}

export function encode(message: ServerMessage): string {
  return JSON.stringify(message)
}
