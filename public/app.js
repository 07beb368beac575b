// PDF downloads — the page's entry script. Plain ES modules, no dependencies, no bundler.
//
// It keeps one WebSocket to the cluster, renders whatever download record the server sends
// (the server sends the current one on every connect, so a reload or a reconnect needs no
// special handling), and sends two kinds of frames: {type:'request'} and {type:'dismiss'}.
// A request carries the JSON object in the page's `?params=` (a link to a job of one's own,
// e.g. ?params={"month":"2026-03"}), or none.
// This file holds the page's state and wires the modules to the page's elements and events.

import { createConnection } from './connection.js'
import { createFileLink } from './file-link.js'
import { createNotice } from './notice.js'
import { readParams } from './page-params.js'
import { cutOffNotice, errorNotice } from './server-notice.js'
import { followRun, mergeRecord, normalize, NO_RUN, ownerGone } from './record.js'
import { findElements, renderCard } from './view.js'
import { renderConnection, renderReach, renderTitle } from './indicators.js'

/** If the server has not answered a request or dismiss by then, give the controls back. */
const ANSWER_TIMEOUT_MS = 10_000

const NOT_CONNECTED =
  'Not connected right now. We’ll reconnect automatically — try again in a moment.'

const el = findElements()

// ------------------------------------------------------------------------------------------
// State

/** @type {import('./record.js').Download | null | undefined} */
let current // undefined: not heard from the server yet; null: no download
/** @type {'request' | 'dismiss' | null} an action sent and not yet answered */
let awaiting = null
/** The download shown when `awaiting` was set: a dismissal is answered once it is gone. */
let awaitingId = /** @type {string | null} */ (null)
let awaitingTimer = 0
/** Id of a download to dismiss as soon as the socket allows (after its file was fetched). */
let pendingDismissId = /** @type {string | null} */ (null)
/** Id of the download whose file the user fetched: its card says so (it stays until cleared). */
let downloadedId = /** @type {string | null} */ (null)
/** Who runs the download shown and how it got there (record.js, `followRun`). */
let run = NO_RUN
/** The live members' names, and the node the page is connected to (if it is one). */
let liveNames = /** @type {Set<string> | null} */ (null)
let nodeName = /** @type {string | null} */ (null)
/** Since when the page has been without a socket, and when it tries again. */
let droppedAt = /** @type {number | null} */ (null)
/** Every server the page knows failed to answer since its socket dropped: it says so. */
let unreachable = false
/** The notice says the page moves to another server: said until it is there. */
let movingOn = false
let retryAt = /** @type {number | null} */ (null)
/** A dismissal sent by "Try again": the request follows once it is answered. */
let requestAfterDismiss = false
/** @type {import('./connection.js').Status} */
let status = 'connecting'
/** The node in use is cut off from most of its cluster, and the page stays on it. */
let cutOff = false
/** Whether keyboard focus was last inside the card (and not moved elsewhere on purpose). */
let focusInCard = false

const notice = createNotice(el.notice, el.noticeText, el.noticeClose)

const fileLink = createFileLink({
  link: /** @type {HTMLAnchorElement} */ (el.fileLink),
  current: () => current,
  href: fileHref,
  dismissing: () => awaiting === 'dismiss',
  notify: notice.show,
  render,
  downloaded(id) {
    downloadedId = id
    render()
  },
  gone(id) {
    pendingDismissId = id
    flushPendingDismiss()
  },
})

const connection = createConnection({
  onStatus(next, endpoint) {
    status = next
    if (next !== 'open') {
      cutOff = false
      // The cut-off it said is no longer known: the next node says its own.
      notice.ended()
    }
    if (next === 'open') {
      droppedAt = null
      retryAt = null
      unreachable = false
      // "Moving to another server…" is done once the page is on one (a trial: the notice
      // stayed 7.7 s over "Live · n3").
      if (movingOn) notice.hide()
      movingOn = false
    } else droppedAt ??= Date.now()
    renderConnection(el, next, endpoint)
    render()
  },
  onMessage,
  onDrop() {
    if (awaiting) clearAwaiting()
    fileLink.stop()
  },
  onMembers(members, self) {
    liveNames = new Set(members.map((m) => m.name))
    nodeName = self
    render()
  },
  onRetry(at, everyOneFailed) {
    retryAt = at
    unreachable = everyOneFailed
    render()
  },
})

/**
 * The file, from the node the page is connected to: the page's own node may be gone.
 *
 * @param {import('./record.js').Download} d
 */
function fileHref(d) {
  return connection.fileHref(d.fileUrl)
}

// ------------------------------------------------------------------------------------------
// Messages from the server

/** @param {Record<string, unknown>} message */
function onMessage(message) {
  if (message.type === 'download') {
    apply(normalize(message.download))
    if (awaiting === 'request') clearAwaiting()
    if (awaiting === 'dismiss' && (current === null || current.id !== awaitingId)) clearAwaiting()
    flushPendingDismiss()
    if (requestAfterDismiss && current === null && !awaiting) {
      requestAfterDismiss = false
      requestDownload()
    }
    render()
  } else if (message.type === 'cut-off') {
    cutOff = message.moving === false
    const said = cutOffNotice(message, !cutOff)
    // Staying, it lasts until the cut-off ends: the pill alone did not say why nothing runs.
    notice.show(said.text, said.tone, { lasting: cutOff })
    movingOn = !cutOff
    render()
  } else if (message.type === 'cut-off-ended') {
    if (cutOff) notice.hide()
    cutOff = false
    render()
  } else if (message.type === 'error') {
    clearAwaiting()
    const said = errorNotice(message, current)
    notice.show(said.text, said.tone)
    render()
  }
}

/** @param {import('./record.js').Download | null} next */
function apply(next) {
  const merged = mergeRecord(current, next)
  // The "your download has started" note outlives its card (the idle view shows it), until
  // another download comes along.
  if (merged && merged.id !== downloadedId) downloadedId = null
  if (!merged || !current || merged.id !== current.id) fileLink.reset()
  run = followRun(run, current, next)
  current = merged
}

// ------------------------------------------------------------------------------------------
// Actions

/** @param {'request' | 'dismiss'} kind */
function setAwaiting(kind) {
  awaiting = kind
  awaitingId = current ? current.id : null
  clearTimeout(awaitingTimer)
  awaitingTimer = setTimeout(() => {
    if (!awaiting) return
    clearAwaiting()
    notice.show('The server did not answer. Please try again.')
    render()
  }, ANSWER_TIMEOUT_MS)
}

function clearAwaiting() {
  awaiting = null
  awaitingId = null
  clearTimeout(awaitingTimer)
}

function requestDownload() {
  if (awaiting || current !== null) return
  const read = readParams(location.search)
  if ('problem' in read) {
    notice.show(
      `This link’s parameters (?params=) cannot be used: ${read.problem}. Nothing was requested.`,
    )
    return
  }
  const params = read.params
  if (!connection.send({ type: 'request', ...(params && { params }) })) {
    notice.show(NOT_CONNECTED)
    return
  }
  notice.hide()
  setAwaiting('request')
  render()
}

function dismissDownload() {
  if (awaiting === 'dismiss' || !current) return
  if (!connection.send({ type: 'dismiss' })) {
    notice.show(NOT_CONNECTED)
    return
  }
  setAwaiting('dismiss')
  render()
}

/** After an error: clear it, then ask again with the same parameters. */
function tryAgain() {
  if (awaiting || !current) return
  requestAfterDismiss = true
  dismissDownload()
  if (awaiting !== 'dismiss') requestAfterDismiss = false
}

function flushPendingDismiss() {
  if (!pendingDismissId) return
  if (current === undefined) return
  if (!current || current.id !== pendingDismissId) {
    pendingDismissId = null
    return
  }
  if (awaiting) return
  if (connection.send({ type: 'dismiss' })) {
    pendingDismissId = null
    setAwaiting('dismiss')
    render()
  }
}

function render() {
  const now = Date.now()
  renderCard(el, {
    online: status === 'open',
    current,
    awaiting,
    downloaded: current ? downloadedId === current.id : downloadedId !== null,
    fetching: current ? fileLink.isFetching(current.id) : false,
    fileHref: current && current.state === 'ready' && current.fileUrl ? fileHref(current) : null,
    focusInCard,
    takeover: run.takeover,
    // Its node has left the live members: the page says so before the takeover arrives.
    ownerGone: ownerGone(current, liveNames),
    cutOff: status === 'open' && cutOff,
  })
  renderReach(el, {
    node: status === 'open' ? nodeName : null,
    cutOff: status === 'open' && cutOff,
    unreachable: status !== 'open' && unreachable,
    retryInMs: retryAt === null ? null : Math.max(0, retryAt - now),
  })
  renderTitle(current)
}

// ------------------------------------------------------------------------------------------
// Wiring

el.card.addEventListener('focusin', () => (focusInCard = true))
el.card.addEventListener('focusout', (event) => {
  // Focus lost to nothing (a control got disabled or hidden) still counts as in the card.
  if (event.relatedTarget && !el.card.contains(event.relatedTarget)) focusInCard = false
})
document.addEventListener('pointerdown', (event) => {
  if (!el.card.contains(event.target)) focusInCard = false
})
el.request.addEventListener('click', requestDownload)
el.cancel.addEventListener('click', dismissDownload)
el.dismiss.addEventListener('click', dismissDownload)
el.retry.addEventListener('click', tryAgain)
el.fileLink.addEventListener('click', fileLink.onClick)
window.addEventListener('online', connection.reconnectNow)
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') connection.reconnectNow()
})

// What changes with time alone: the countdown to the next attempt.
setInterval(() => {
  if (droppedAt !== null) render()
}, 250)

render()
connection.connect()
