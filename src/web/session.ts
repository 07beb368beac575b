/**
 * The seed's fake authentication: a random user id in a signed, HttpOnly cookie. The signature
 * is an HMAC under a key derived from the cluster secret, so every node accepts every other
 * node's cookies, and a cookie that fails the check earns a fresh identity, never another's.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { nanoid } from 'nanoid'

export const COOKIE_NAME = 'sid'
const ONE_YEAR_S = 365 * 24 * 3600
const USER_ID = /^[A-Za-z0-9_-]{21}$/

export class Sessions {
  private readonly key: Buffer

  constructor(secret: string) {
    this.key = createHmac('sha256', secret).update('pdf-cluster session cookie v1').digest()
  }

  private mac(userId: string): string {
    return createHmac('sha256', this.key).update(userId).digest('base64url')
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
    return given.length === expected.length && timingSafeEqual(given, expected) ? userId : null
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
