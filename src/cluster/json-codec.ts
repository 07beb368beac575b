/**
 * compact-encoding's `json`, with the same bytes on the wire, but a message stringified once:
 * `c.json` stringifies in `preencode` (to size the frame) and again in `encode`, and a
 * broadcast sends one message to every link. The text is kept for the message object last
 * seen until the current turn's microtasks run, so a message must not be changed once sent in
 * the turn it was sent in (none is: each is built for its send).
 */
import c from 'compact-encoding'

let last: object | null = null
let lastText = ''

function forget(): void {
  last = null
  lastText = ''
}

/** The message's JSON text, from the send before it if it was the same object in this turn. */
export function jsonText(v: unknown): string {
  if (typeof v !== 'object' || v === null) return JSON.stringify(v)
  if (v === last) return lastText
  if (last === null) queueMicrotask(forget)
  last = v
  lastText = JSON.stringify(v)
  return lastText
}

export const json = {
  preencode(state: unknown, v: unknown): void {
    c.utf8.preencode(state, jsonText(v))
  },
  encode(state: unknown, v: unknown): void {
    c.utf8.encode(state, jsonText(v))
  },
  decode(state: unknown): unknown {
    return JSON.parse(c.utf8.decode(state))
  },
}
