/**
 * The seed's fake authentication: a random user id in a signed, HttpOnly cookie. The signature
 * is an HMAC under a key derived from the cluster secret, so every node accepts every other
 * node's cookies, and a cookie that fails the check earns a fresh identity, never another's.
 *
 * A browser sends the cookie only to the host that set it, so a page that moves to a node on
 * another host (its own died, or is cut off) carries a ticket instead: the same user id with
 * an expiry, signed under a key of its own, which its node sends over the socket and renews
 * (socket.ts). A ticket is accepted as `?ticket=` on the socket and on file URLs; it lasts
 * minutes, not a year, since a URL can end up in a proxy's log.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { nanoid } from 'nanoid'
import { requestUrl } from './request-url.ts'

export const COOKIE_NAME = 'sid'
const ONE_YEAR_S = 365 * 24 * 3600
const USER_ID = /^[A-Za-z0-9_-]{21}$/
/** How long a ticket is good for; pages get a new one well before (socket.ts). */
export const TICKET_TTL_MS = 15 * 60_000

export class Sessions {
  private readonly key: Buffer
  private readonly ticketKey: Buffer

  constructor(secret: string) {
    this.key = createHmac('sha256', secret).update('pdf-cluster session cookie v1').digest()
    this.ticketKey = createHmac('sha256', secret).update('pdf-cluster ticket v1').digest()
  }

  private mac(userId: string, key = this.key): string {
    return createHmac('sha256', key).update(userId).digest('base64url')
  }

  /** A ticket for this user, good until `now + TICKET_TTL_MS` (wall-clock ms). */
  ticket(userId: string, now: number): { ticket: string; expiresAt: number } {
    const expiresAt = now + TICKET_TTL_MS
    const body = `${userId}.${expiresAt}`
    return { ticket: `${body}.${this.mac(body, this.ticketKey)}`, expiresAt }
  }

  /** The user id in a ticket, or null if it is malformed, forged or expired at `now`. */
  fromTicket(value: string | null | undefined, now: number): string | null {
    const parts = value?.split('.') ?? []
    if (parts.length !== 3) return null
    const [userId, expires, given] = parts as [string, string, string]
    if (!USER_ID.test(userId) || !/^\d{1,15}$/.test(expires)) return null
    if (Number(expires) <= now || Number(expires) > now + 2 * TICKET_TTL_MS) return null
    const expected = Buffer.from(this.mac(`${userId}.${expires}`, this.ticketKey))
    const got = Buffer.from(given)
    return got.length === expected.length && timingSafeEqual(got, expected) ? own(userId) : null
  }

  sign(userId: string): string {
    return `${userId}.${this.mac(userId)}`
  }

  /** The user id in a cookie value, or null if it is malformed or its signature is wrong. */
  verify(value: string | undefined): string | null {
    if (!value) return null
    const dot = value.indexOf('.')
    if (dot < 0) return null
    const userId = value.slice(0, dot)
    if (!USER_ID.test(userId)) return null
    const given = Buffer.from(value.slice(dot + 1))
    const expected = Buffer.from(this.mac(userId))
    return given.length === expected.length && timingSafeEqual(given, expected) ? own(userId) : null
  }

  /**
   * The user of a request: the ticket in its URL (`?ticket=`) if it carries a valid one, else
   * its session cookie. The ticket first: a cookie this host set for another identity (the user
   * once loaded this node directly) must not turn a page that moved here into someone else.
   */
  fromRequest(
    url: string | undefined,
    cookieHeader: string | undefined,
    now: number,
  ): { userId: string; by: 'cookie' | 'ticket' } | null {
    const ticket = requestUrl(url)?.searchParams.get('ticket')
    const fromTicket = ticket ? this.fromTicket(ticket, now) : null
    if (fromTicket) return { userId: fromTicket, by: 'ticket' }
    const fromCookie = this.fromCookieHeader(cookieHeader)
    return fromCookie ? { userId: fromCookie, by: 'cookie' } : null
  }

  /** The user of a request, from its Cookie header. */
  fromCookieHeader(header: string | undefined): string | null {
    return this.verify(readCookie(header, COOKIE_NAME))
  }

  /** A new identity and the Set-Cookie header that carries it. */
  issue(): { userId: string; setCookie: string } {
    const userId = nanoid()
    return {
      userId,
      setCookie: `${COOKIE_NAME}=${this.sign(userId)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${ONE_YEAR_S}`,
    }
  }
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

/**
 * A copy of an id cut from a header: V8 keeps a slice pointing into the whole header string,
 * which a socket would then hold for its life (every cookie the site sets, say).
 */
function own(id: string): string {
  return Buffer.from(id, 'latin1').toString('latin1')
}
