/**
 * Which pages may open a socket here, or fetch a file with the user's cookie: a browser sends
 * its page's origin, and it must be this node's own (scheme, host and port) or one trusted:
 * a member's URL, or an origin the operator allowed (a load balancer's).
 */

export interface RequestSide {
  /** The Host header the request came with. */
  host: string | undefined
  /** X-Forwarded-Proto, as a TLS-terminating proxy sets it; a browser page cannot. */
  forwardedProto: string | undefined
}

export function originAllowed(
  origin: string | undefined,
  request: RequestSide,
  trusted: Iterable<string>,
): boolean {
  // Browsers always send Origin; scripts may not, and they hold no ambient cookie to abuse.
  if (origin === undefined) return true
  const page = canonical(origin)
  if (page === null) return false
  if (request.host && page === canonical(`${schemeOf(request)}://${request.host}`)) return true
  for (const t of trusted) if (canonical(t) === page) return true
  return false
}

function schemeOf({ forwardedProto }: RequestSide): 'http' | 'https' {
  const first = forwardedProto?.split(',')[0]?.trim().toLowerCase()
  return first === 'https' ? 'https' : 'http'
}

/** An origin in one form (default ports dropped), or null if it is none. */
function canonical(value: string): string | null {
  try {
    const url = new URL(value)
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : null
  } catch {
    return null
  }
}
