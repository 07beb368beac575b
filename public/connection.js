// The page's one WebSocket to the cluster. When it drops, it is opened again, to this node or
// another live member, as the policy in reconnect.js says; one that falls silent (a paused or
// hung node, liveness.js) is left as one that closed. The page only hears the status.

import {
  afterCutOff,
  closed,
  everyOneFailed,
  forgetUnanswered,
  createPolicy,
  nextRetry,
  opened,
  resetBackoff,
  shouldRefreshSession,
  startAttempt,
  withMembers,
  withTicket,
} from './reconnect.js'
import * as liveness from './liveness.js'

/** @typedef {'connecting' | 'open' | 'reconnecting'} Status */

/**
 * How long the page stays on a cut-off node whose named members all failed to answer it
 * before it tries them again: the node works again as soon as it reaches them, and says so
 * (`cut-off-ended`); a member the browser reaches and the node does not is found by this.
 */
const CUT_OFF_LOOK_AGAIN_MS = 30_000

const PING = JSON.stringify({ type: 'ping' })
/** The session refresh's HEAD is given up after this. */
const SESSION_REFRESH_WITHIN_MS = 3000

/**
 * The HTTP base of a socket URL: files are fetched from the node the page is connected to.
 *
 * @param {string} wsUrl
 */
const toHttpBase = (wsUrl) => wsUrl.replace(/^ws/, 'http').replace(/\/ws$/, '')

/**
 * @param {object} handlers
 * @param {(status: Status, endpoint?: string) => void} handlers.onStatus  `endpoint`: the URL
 *   of the socket that just opened
 * @param {(message: Record<string, unknown>) => void} handlers.onMessage  every message but
 *   `members` and `ticket`, which steer the reconnection and stay here; a `cut-off` comes
 *   with `moving`: whether the page leaves for another member or stays
 * @param {() => void} handlers.onDrop  the socket closed; runs before the retry is scheduled
 * @param {(members: { id: string, name: string, url: string }[], self: string | null) => void}
 *   [handlers.onMembers]  the live members, and the name of the node in use if among them
 * @param {(retryAt: number, everyOneFailed: boolean) => void} [handlers.onRetry]  when the
 *   next attempt will be made, and whether every endpoint the page knows has failed since the
 *   socket dropped (reconnect.js, `everyOneFailed`)
 */
export function createConnection({ onStatus, onMessage, onDrop, onMembers, onRetry }) {
  let policy = createPolicy(
    `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`,
  )
  /** @type {WebSocket | null} */
  let socket = null
  let retryTimer = 0
  /** The latest ticket from the node in use: what a node on another host accepts. */
  let ticket = /** @type {string | null} */ (null)
  /** While the page stays on a cut-off node: when it looks at the members again (0: not set). */
  let lookAgainTimer = 0
  /** The node's latest `cut-off` message, which the look again weighs. */
  let latestCutOff = /** @type {Record<string, unknown>} */ ({})

  function stopLookingAgain() {
    clearTimeout(lookAgainTimer)
    lookAgainTimer = 0
  }

  function connect() {
    clearTimeout(retryTimer)
    retryTimer = 0
    policy = startAttempt(policy, Math.random)
    const url = policy.current
    /** @type {WebSocket} */
    let ws
    try {
      ws = new WebSocket(withTicket(url, location.host, ticket))
    } catch {
      scheduleReconnect()
      return
    }
    socket = ws
    /** @type {number | null} */
    let openedAt = null
    let live = liveness.started(Date.now())
    const look = setInterval(() => {
      if (ws !== socket) return clearInterval(look)
      const step = liveness.nextStep(live, Date.now())
      if (step === 'ping') {
        ws.send(PING)
        live = liveness.pinged(live, Date.now())
      } else if (step === 'leave') {
        // Not closed first: the close handshake with a silent node waits as long as it does.
        dropped()
        ws.close()
      }
    }, liveness.LOOK_EVERY_MS)

    ws.addEventListener('open', () => {
      if (ws !== socket) return
      openedAt = Date.now()
      live = liveness.opened(live, openedAt)
      policy = opened(policy)
      onStatus('open', url)
    })

    ws.addEventListener('message', (event) => {
      if (ws !== socket) return
      live = liveness.heard(live, Date.now())
      receive(event.data)
    })

    ws.addEventListener('close', () => {
      if (ws === socket) dropped()
    })

    /** The socket closed, or the page left it for its silence: the next one is opened. */
    function dropped() {
      clearInterval(look)
      socket = null
      stopLookingAgain()
      policy = closed(policy, { endpoint: url, openedAt, closedAt: Date.now() })
      onDrop()
      scheduleReconnect()
    }

    // An error is always followed by close, which does the work.
    ws.addEventListener('error', () => {})
  }

  function scheduleReconnect() {
    onStatus('reconnecting')
    clearTimeout(retryTimer)
    const retry = nextRetry(policy, Math.random)
    policy = retry.policy
    retryTimer = setTimeout(reconnect, retry.delay)
    onRetry?.(Date.now() + retry.delay, everyOneFailed(policy))
  }

  async function reconnect() {
    retryTimer = 0
    if (shouldRefreshSession(policy)) {
      // Loading the page's headers gets a fresh session cookie if ours is the reason for the
      // refusals (see shouldRefreshSession). Bounded: a paused node accepts the connection and
      // never answers, and the page would wait on it, not reconnecting, as long as TCP does.
      const abort = new AbortController()
      const giveUp = setTimeout(() => abort.abort(), SESSION_REFRESH_WITHIN_MS)
      try {
        await fetch('/', {
          method: 'HEAD',
          credentials: 'same-origin',
          cache: 'no-store',
          signal: abort.signal,
        })
      } catch {
        // The server is down, or silent; the next attempt will fail and back off again.
      } finally {
        clearTimeout(giveUp)
      }
    }
    if (!socket) connect()
  }

  /** Skip the remaining backoff (the network came back, or the tab became visible). */
  function reconnectNow() {
    if (socket || !retryTimer) return
    clearTimeout(retryTimer)
    policy = resetBackoff(policy)
    void reconnect()
  }

  /** @param {unknown} data */
  function receive(data) {
    let message
    try {
      message = JSON.parse(typeof data === 'string' ? data : '')
    } catch {
      return
    }
    if (!message || typeof message !== 'object') return
    if (message.type === 'pong') return
    if (message.type === 'members') {
      policy = withMembers(policy, message.members)
      const members = Array.isArray(message.members) ? message.members : []
      const base = toHttpBase(policy.current)
      const self = members.find((/** @type {any} */ m) => m && m.url === base)
      onMembers?.(members, typeof self?.name === 'string' ? self.name : null)
    } else if (message.type === 'ticket')
      ticket = typeof message.ticket === 'string' ? message.ticket : ticket
    else if (message.type === 'cut-off') cutOff(message)
    else {
      if (message.type === 'cut-off-ended') {
        stopLookingAgain()
        policy = forgetUnanswered(policy)
      }
      onMessage(message)
    }
  }

  /**
   * The node is cut off from most of its cluster and can do nothing for this page: say so,
   * and move to one of the members it cannot reach, which may hold the majority; or stay, if
   * none is named or each failed to answer (reconnect.js, `afterCutOff`), and look again later.
   *
   * @param {Record<string, unknown>} message
   */
  function cutOff(message) {
    const next = afterCutOff(policy, message.members)
    onMessage({ ...message, moving: next.move })
    latestCutOff = message
    if (!next.move) {
      // The node sends `cut-off` again at each change of its members: that does not put the
      // next look further off, or a flapping cluster would keep the page from ever looking.
      if (!lookAgainTimer)
        lookAgainTimer = setTimeout(() => {
          lookAgainTimer = 0
          policy = forgetUnanswered(policy)
          if (socket) cutOff(latestCutOff)
        }, CUT_OFF_LOOK_AGAIN_MS)
      return
    }
    stopLookingAgain()
    policy = next.policy
    socket?.close()
  }

  /**
   * Sends a frame if the socket is open.
   *
   * @param {{ type: 'request' | 'dismiss' }} message
   * @returns {boolean} whether it was sent
   */
  function send(message) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false
    socket.send(JSON.stringify(message))
    return true
  }

  return {
    connect,
    send,
    reconnectNow,
    /**
     * Where a file is fetched from: the node in use (the page's own may be gone), with the
     * ticket if that node is on another host.
     *
     * @param {string} path  the download's `fileUrl`
     */
    fileHref: (path) => withTicket(toHttpBase(policy.current) + path, location.host, ticket),
  }
}
