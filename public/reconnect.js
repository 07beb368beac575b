// @ts-check
// The reconnection policy: where the next connection attempt goes and how long to wait before
// it. Pure functions over a small immutable state, with randomness and time passed in, so the
// policy runs (and is tested) the same in Node as in the page. connection.js applies it.

/** First reconnect delay; each failure doubles it, up to the cap. */
const BACKOFF_BASE_MS = 250
const BACKOFF_CAP_MS = 5000
/** The ceiling is capped long before this; bounding the step keeps 2 ** attempt small. */
const MAX_ATTEMPT = 16
/** A connection open at least this long counts as healthy: the next backoff starts over. */
const STABLE_CONNECTION_MS = 2000
/** After this many failed connection attempts in a row, refresh the session cookie once. */
const SESSION_REFRESH_AFTER = 3

/**
 * @typedef {object} Policy
 * @property {string} own  This page's node's socket URL: the endpoint when no member is known.
 * @property {string[]} endpoints  The live members' socket URLs; never empty.
 * @property {string} current  The endpoint of the socket open (or being opened) now.
 * @property {string | null} failed  The last endpoint that failed, until a connection opens.
 * @property {number} attempt  How many steps the backoff has grown.
 * @property {number} failuresInARow  Attempts that never opened, since the last one that did.
 * @property {string[]} tried  The endpoints those attempts went to: the next goes to another
 *   while there is one.
 * @property {string[]} unanswered  The endpoints that never opened since the page last forgot
 *   them (`forgetUnanswered`), whatever opened in between: a cut-off node does not send the
 *   page to them again (`afterCutOff`).
 */

/**
 * @param {string} own  the socket URL of the node this page came from
 * @returns {Policy}
 */
export function createPolicy(own) {
  return {
    own,
    endpoints: [own],
    current: own,
    failed: null,
    attempt: 0,
    failuresInARow: 0,
    tried: [],
    unanswered: [],
  }
}

/** @param {string} httpUrl */
const toSocketUrl = (httpUrl) => httpUrl.replace(/^http/, 'ws').replace(/\/$/, '') + '/ws'

/**
 * The node this page came from sends the live members' URLs (a `members` message, again on
 * every change); when the socket drops, the page tries another of them, so it survives the
 * death of its own node. Malformed entries are skipped; the page's own address stays among
 * them unless `keepOwn` is false (a cut-off node names the members to go to instead).
 *
 * @param {Policy} policy
 * @param {unknown} members  the message's `members` field, as received
 * @param {{ keepOwn?: boolean }} [options]
 * @returns {Policy}
 */
export function withMembers(policy, members, { keepOwn = true } = {}) {
  if (!Array.isArray(members)) return policy
  const urls = members
    .filter((m) => m && typeof m.url === 'string' && /^https?:\/\//.test(m.url))
    .map((m) => toSocketUrl(m.url))
  // The page's own address stays a choice: behind a load balancer it is the balancer, which
  // reaches a live node when the members' own addresses are not reachable from the browser.
  if (keepOwn || urls.length === 0) urls.push(policy.own)
  return { ...policy, endpoints: [...new Set(urls)] }
}

/**
 * The page's node says it is cut off from most of its cluster and names the members it cannot
 * reach, which may hold the majority: the page moves to one of them, unless each has already
 * failed to answer it, and then it stays where it is (a node cut off still shows the download
 * as it last knew it, and works again the moment it reaches them), rather than go round the
 * dead members and its own node for as long as they are down.
 *
 * @param {Policy} policy
 * @param {unknown} members  the message's `members` field, as received
 * @returns {{ policy: Policy, move: boolean }}
 */
export function afterCutOff(policy, members) {
  const named = withMembers(policy, members, { keepOwn: false }).endpoints
  const untried = named.filter((u) => u !== policy.current && !policy.unanswered.includes(u))
  if (untried.length === 0) return { policy, move: false }
  // The node in use stays a choice after them: it is up, and may be the only one (the page
  // may have come to it from a node that died, which is all `own` names).
  return { policy: { ...policy, endpoints: [...untried, policy.current] }, move: true }
}

/**
 * Every endpoint may be tried again: the node's cut-off ended (those it could not reach are
 * back), or the page has stayed on a cut-off node long enough to look again.
 *
 * @param {Policy} policy
 * @returns {Policy}
 */
export function forgetUnanswered(policy) {
  return { ...policy, unanswered: [] }
}

/**
 * The URL to open for an endpoint: on another host than the page's, the browser will not send
 * the session cookie, so the ticket the page's node gave it goes along (`?ticket=`).
 *
 * @param {string} url  a socket or file URL
 * @param {string} pageHost  `location.host`
 * @param {string | null} ticket  the latest ticket, if any
 */
export function withTicket(url, pageHost, ticket) {
  if (!ticket) return url
  let target
  try {
    target = new URL(url)
  } catch {
    return url
  }
  if (target.host === pageHost) return url
  target.searchParams.set('ticket', ticket)
  return target.toString()
}

/**
 * Starts a connection attempt; it goes to the returned policy's `current`. That is the current
 * endpoint while it works; after a failure, a random other one, so the clients of a dead node
 * spread over the survivors instead of all landing on one, and never the one that just failed
 * while there is another.
 *
 * @param {Policy} policy
 * @param {() => number} random  a number in [0, 1), like Math.random
 * @returns {Policy}
 */
export function startAttempt(policy, random) {
  if (!policy.failed) return policy
  const failed = policy.failed
  // After a few refusals in a row, or once every endpoint listed failed, the page's own node is
  // a choice again, whatever the list says: there its cookie works, and it gives a fresh ticket
  // (others may refuse an old one); and a node that cut the page off for members now down
  // may have its quorum back (a page waited for one of them while its own node worked again).
  const allTried = policy.endpoints.every((u) => policy.tried.includes(u))
  const endpoints =
    policy.failuresInARow >= SESSION_REFRESH_AFTER || allTried
      ? [...new Set([...policy.endpoints, policy.own])]
      : policy.endpoints
  const others = endpoints.filter((u) => u !== failed)
  const pool = others.length > 0 ? others : endpoints
  // One not tried since the last connection opened, while there is one.
  const fresh = pool.filter((u) => !policy.tried.includes(u))
  const from = fresh.length > 0 ? fresh : pool
  return { ...policy, current: from[Math.floor(random() * from.length)] ?? policy.current }
}

/**
 * The socket opened: the failure streak is over.
 *
 * @param {Policy} policy
 * @returns {Policy}
 */
export function opened(policy) {
  return {
    ...policy,
    failed: null,
    failuresInARow: 0,
    tried: [],
    unanswered: policy.unanswered.filter((u) => u !== policy.current),
  }
}

/**
 * The socket to `endpoint` closed, or never opened (`openedAt` null).
 *
 * @param {Policy} policy
 * @param {{ endpoint: string, openedAt: number | null, closedAt: number }} socket  times in ms
 * @returns {Policy}
 */
export function closed(policy, { endpoint, openedAt, closedAt }) {
  const wasOpen = openedAt !== null
  return {
    ...policy,
    failed: endpoint,
    failuresInARow: wasOpen ? policy.failuresInARow : policy.failuresInARow + 1,
    // A connection that opened was no failed try (a cut-off node's socket is closed by the page).
    tried: wasOpen ? [] : [...new Set([...policy.tried, endpoint])],
    unanswered: wasOpen ? policy.unanswered : [...new Set([...policy.unanswered, endpoint])],
    // A connection that lasted starts the backoff over; one dropped at once keeps growing it,
    // so a node that accepts and immediately closes is not hammered.
    attempt: wasOpen && closedAt - openedAt >= STABLE_CONNECTION_MS ? 0 : policy.attempt,
  }
}

/**
 * Whether every endpoint the page knows has failed to open since its last connection: only
 * then is no server reachable. Said sooner (1.5 s after the drop, before), it was false while
 * the first attempt at another member was still under way (a trial at 30 % loss: "No server
 * reachable", then "Live · n3" 1.7 to 3 s later).
 *
 * @param {Policy} policy
 */
export function everyOneFailed(policy) {
  return policy.endpoints.every((u) => policy.tried.includes(u))
}

/**
 * The wait before the next attempt, and the policy with the backoff grown one step.
 *
 * @param {Policy} policy
 * @param {() => number} random  a number in [0, 1), like Math.random
 * @returns {{ delay: number, policy: Policy }}
 */
export function nextRetry(policy, random) {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** policy.attempt)
  // "Equal jitter": at least half the step, so retries spread out but never hammer.
  const delay = Math.round(ceiling / 2 + random() * (ceiling / 2))
  return { delay, policy: { ...policy, attempt: Math.min(policy.attempt + 1, MAX_ATTEMPT) } }
}

/**
 * Skipping the remaining wait (the network came back, the tab became visible) also starts the
 * backoff over.
 *
 * @param {Policy} policy
 * @returns {Policy}
 */
export function resetBackoff(policy) {
  return { ...policy, attempt: 0 }
}

/**
 * A socket refused for a stale or foreign session cookie looks like any other failure from
 * here. Every few failures, the page loads its headers once: the server re-issues the cookie
 * if (and only if) the one we hold is not valid.
 *
 * @param {Policy} policy
 */
export function shouldRefreshSession(policy) {
  return policy.failuresInARow > 0 && policy.failuresInARow % SESSION_REFRESH_AFTER === 0
}
