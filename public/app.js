// PDF downloads — the page's only script. Plain ES module, no dependencies.
//
// It keeps one WebSocket to the cluster, renders whatever download record the server sends
// (the server sends the current one on every connect, so a reload or a reconnect needs no
// special handling), and sends two kinds of frames: {type:'request'} and {type:'dismiss'}.

/** First reconnect delay; each failure doubles it, up to the cap. */
const BACKOFF_BASE_MS = 250
const BACKOFF_CAP_MS = 5000
/** After clicking the file link, wait this long before clearing the card (lets the GET leave). */
const DISMISS_AFTER_DOWNLOAD_MS = 500
/** How long a notice stays up unless hovered or focused. */
const NOTICE_MS = 8000
/** If the server has not answered a request or dismiss by then, give the controls back. */
const ANSWER_TIMEOUT_MS = 10_000
/** A node that does not have the file yet answers 503 + Retry-After; retry this many times. */
const FILE_RETRIES = 5
/** A connection open at least this long counts as healthy: the next backoff starts over. */
const STABLE_CONNECTION_MS = 2000
/** After this many failed connection attempts in a row, refresh the session cookie once. */
const SESSION_REFRESH_AFTER = 3

const STATE_TEXT = {
  pending: 'Queued…',
  processing: 'Generating your PDF…',
  ready: 'Your PDF is ready',
  error: 'We couldn’t create your PDF',
}

// ------------------------------------------------------------------------------------------
// Elements

const $ = (id) => {
  const node = document.getElementById(id)
  if (!node) throw new Error(`#${id} is missing from the page`)
  return node
}

const el = {
  card: $('card'),
  loading: $('loading'),
  idle: $('idle'),
  idleTitle: $('card-title'),
  idleText: document.querySelector('#idle .view__text'),
  request: $('request'),
  download: $('download'),
  state: $('state'),
  detail: $('detail'),
  meter: $('meter'),
  progress: $('progress'),
  progressBar: $('progress-bar'),
  percent: $('percent'),
  errorMessage: $('error-message'),
  fileLink: $('file-link'),
  fileLinkLabel: document.querySelector('#file-link .button__label'),
  hint: $('hint'),
  cancel: $('cancel'),
  dismiss: $('dismiss'),
  connection: $('connection'),
  connectionText: $('connection-text'),
  notice: $('notice'),
  noticeText: $('notice-text'),
  noticeClose: $('notice-close'),
}

// ------------------------------------------------------------------------------------------
// Endpoints. The node this page came from sends the live members' URLs (a `members` message,
// again on every change); when the socket drops, the page tries another of them, so it
// survives the death of its own node.

const ownEndpoint = () => `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`
const toSocketUrl = (httpUrl) => httpUrl.replace(/^http/, 'ws').replace(/\/$/, '') + '/ws'
/** The HTTP base of a socket URL: files are fetched from the node the page is connected to. */
const toHttpBase = (wsUrl) => wsUrl.replace(/^ws/, 'http').replace(/\/ws$/, '')

let endpoints = [ownEndpoint()]
/** The endpoint of the socket open (or being opened) now, and of the last one that failed. */
let currentEndpoint = ownEndpoint()
let failedEndpoint = null

/** Replaces the endpoints to try. Keeps this host if given none. */
export function setEndpoints(urls) {
  const list = (Array.isArray(urls) ? urls : []).filter(
    (u) => typeof u === 'string' && /^wss?:\/\//.test(u),
  )
  endpoints = list.length > 0 ? [...new Set(list)] : [ownEndpoint()]
}

/**
 * The next connection attempt: the current endpoint while it works; after a failure, a random
 * other one, so the clients of a dead node spread over the survivors instead of all landing on
 * one, and never the one that just failed while there is another.
 */
export function nextEndpoint() {
  if (!failedEndpoint) return currentEndpoint
  const others = endpoints.filter((u) => u !== failedEndpoint)
  const pool = others.length > 0 ? others : endpoints
  return pool[Math.floor(Math.random() * pool.length)]
}

// ------------------------------------------------------------------------------------------
// State

/** undefined: not heard from the server yet; null: no download; otherwise the record shown. */
let current
/** 'request' | 'dismiss' | null: an action sent and not yet answered. */
let awaiting = null
let awaitingTimer = 0
/** Id of a download to dismiss as soon as the socket allows (after its file was fetched). */
let pendingDismissId = null
/** Id of the download whose file the user just fetched: the idle view says so. */
let downloadedId = null
/** The file link is being checked / retried; holds the download id. */
let fetchingFileFor = null
/** A click on the file link that should go through to the browser (after the check). */
let fileLinkArmedFor = null

/** 'connecting' (never connected yet) | 'open' | 'reconnecting'. */
let status = 'connecting'
let socket = null
let attempt = 0
let failuresInARow = 0
let retryTimer = 0

// ------------------------------------------------------------------------------------------
// Connection

function connect() {
  clearTimeout(retryTimer)
  retryTimer = 0
  const url = nextEndpoint()
  currentEndpoint = url
  let ws
  try {
    ws = new WebSocket(url)
  } catch {
    scheduleReconnect()
    return
  }
  socket = ws
  let openedAt = 0

  ws.addEventListener('open', () => {
    if (ws !== socket) return
    openedAt = Date.now()
    failuresInARow = 0
    failedEndpoint = null
    el.connection.dataset.endpoint = url
    setStatus('open')
  })

  ws.addEventListener('message', (event) => {
    if (ws !== socket) return
    onMessage(event.data)
  })

  ws.addEventListener('close', () => {
    if (ws !== socket) return
    socket = null
    failedEndpoint = url
    if (!openedAt) failuresInARow++
    // A connection that lasted starts the backoff over; one dropped at once keeps growing it,
    // so a node that accepts and immediately closes is not hammered.
    if (openedAt && Date.now() - openedAt >= STABLE_CONNECTION_MS) attempt = 0
    if (awaiting) clearAwaiting()
    fetchingFileFor = null
    scheduleReconnect()
  })

  // An error is always followed by close, which does the work.
  ws.addEventListener('error', () => {})
}

function scheduleReconnect() {
  setStatus('reconnecting')
  clearTimeout(retryTimer)
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt)
  attempt = Math.min(attempt + 1, 16)
  // "Equal jitter": at least half the step, so retries spread out but never hammer.
  const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2))
  retryTimer = setTimeout(reconnect, delay)
}

async function reconnect() {
  retryTimer = 0
  // A socket refused for a stale or foreign session cookie looks like any other failure from
  // here. Every few failures, load the page's headers once: the server re-issues the cookie if
  // (and only if) the one we hold is not valid.
  if (failuresInARow > 0 && failuresInARow % SESSION_REFRESH_AFTER === 0) {
    try {
      await fetch('/', { method: 'HEAD', credentials: 'same-origin', cache: 'no-store' })
    } catch {
      // The server is down; the next attempt will fail and back off again.
    }
  }
  if (!socket) connect()
}

/** Skip the remaining backoff (the network came back, or the tab became visible). */
function reconnectNow() {
  if (socket || !retryTimer) return
  clearTimeout(retryTimer)
  attempt = 0
  void reconnect()
}

function send(message) {
  if (!socket || socket.readyState !== WebSocket.OPEN) return false
  socket.send(JSON.stringify(message))
  return true
}

function setStatus(next) {
  status = next
  el.connection.dataset.status = next
  el.connectionText.textContent =
    next === 'open' ? 'Live' : next === 'reconnecting' ? 'Reconnecting…' : 'Connecting…'
  el.connection.title =
    next === 'open'
      ? 'Connected: progress updates live'
      : next === 'reconnecting'
        ? 'Connection lost; trying again'
        : 'Connecting to the server'
  render()
}

// ------------------------------------------------------------------------------------------
// Messages from the server

function onMessage(data) {
  let message
  try {
    message = JSON.parse(typeof data === 'string' ? data : '')
  } catch {
    return
  }
  if (!message || typeof message !== 'object') return

  if (message.type === 'members') {
    if (Array.isArray(message.members)) {
      setEndpoints(
        message.members
          .filter((m) => m && typeof m.url === 'string' && /^https?:\/\//.test(m.url))
          .map((m) => toSocketUrl(m.url)),
      )
    }
    return
  }

  if (message.type === 'download') {
    const next = normalize(message.download)
    apply(next)
    if (awaiting === 'request') clearAwaiting()
    if (awaiting === 'dismiss' && (current === null || current.id !== awaitingId)) clearAwaiting()
    flushPendingDismiss()
    render()
  } else if (message.type === 'error') {
    clearAwaiting()
    showNotice(
      typeof message.message === 'string' && message.message
        ? message.message
        : 'Something went wrong.',
    )
    render()
  }
}

/** A record as the page uses it, or null; anything malformed counts as no download. */
function normalize(d) {
  if (!d || typeof d !== 'object' || typeof d.id !== 'string') return null
  const progress = Number(d.progress)
  return {
    ...d,
    state: Object.hasOwn(STATE_TEXT, d.state) ? d.state : 'pending',
    progress: Number.isFinite(progress) ? Math.min(100, Math.max(0, progress)) : 0,
  }
}

/**
 * Adopts a record without ever going backwards for the same download: progress only grows and
 * a download seen ready stays ready (a lagging node may still hold an older copy of it).
 */
function apply(next) {
  if (next && current && next.id === current.id) {
    if (current.state === 'ready' && next.state !== 'ready' && next.state !== 'error') return
    next = { ...next, progress: Math.max(current.progress, next.progress) }
    if (next.state === 'ready') next.progress = 100
  }
  if (next && next.state === 'ready') next = { ...next, progress: 100 }
  if (next && next.id !== downloadedId) downloadedId = null
  if (!next || !current || next.id !== current.id) {
    fetchingFileFor = null
    fileLinkArmedFor = null
  }
  current = next
}

// ------------------------------------------------------------------------------------------
// Actions

let awaitingId = null

function setAwaiting(kind) {
  awaiting = kind
  awaitingId = current ? current.id : null
  clearTimeout(awaitingTimer)
  awaitingTimer = setTimeout(() => {
    if (!awaiting) return
    clearAwaiting()
    showNotice('The server did not answer. Please try again.')
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
  if (!send({ type: 'request' })) {
    showNotice('Not connected right now. We’ll reconnect automatically — try again in a moment.')
    return
  }
  hideNotice()
  setAwaiting('request')
  render()
}

function dismissDownload() {
  if (awaiting === 'dismiss' || !current) return
  if (!send({ type: 'dismiss' })) {
    showNotice('Not connected right now. We’ll reconnect automatically — try again in a moment.')
    return
  }
  setAwaiting('dismiss')
  render()
}

/** Clears the card once the browser has started fetching the file. */
function dismissAfterDownload(id) {
  setTimeout(() => {
    if (!current || current.id !== id) return
    downloadedId = id
    pendingDismissId = id
    flushPendingDismiss()
  }, DISMISS_AFTER_DOWNLOAD_MS)
}

function flushPendingDismiss() {
  if (!pendingDismissId) return
  if (current === undefined) return
  if (!current || current.id !== pendingDismissId) {
    pendingDismissId = null
    return
  }
  if (awaiting) return
  if (send({ type: 'dismiss' })) {
    pendingDismissId = null
    setAwaiting('dismiss')
    render()
  }
}

/** The file, from the node the page is connected to: the page's own node may be gone. */
const fileHref = (d) => toHttpBase(currentEndpoint) + d.fileUrl

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * The file link. The click is checked first with a HEAD request: if the file is not there
 * (expired, or not yet on the node that serves this page), the browser would save an error
 * page and the card would be cleared, losing the file. Only a good answer lets the click go.
 */
async function onFileLinkClick(event) {
  const d = current
  if (!d || d.state !== 'ready' || !d.fileUrl) {
    event.preventDefault()
    return
  }
  if (fileLinkArmedFor === d.id) {
    // The checked, programmatic click: let the browser download, then clear the card.
    fileLinkArmedFor = null
    dismissAfterDownload(d.id)
    return
  }
  event.preventDefault()
  if (fetchingFileFor || awaiting === 'dismiss') return
  fetchingFileFor = d.id
  render()
  try {
    for (let i = 0; ; i++) {
      let response
      try {
        response = await fetch(fileHref(d), {
          method: 'HEAD',
          credentials: 'include',
          cache: 'no-store',
        })
      } catch {
        showNotice(
          'Couldn’t reach the server to fetch your file. Check your connection and try again.',
        )
        return
      }
      if (fetchingFileFor !== d.id) return
      if (response.ok) {
        fileLinkArmedFor = d.id
        el.fileLink.click()
        return
      }
      if (response.status === 503 && i < FILE_RETRIES) {
        const header = response.headers.get('retry-after')
        const seconds = header === null ? 2 : Number(header)
        await sleep(Math.min(5000, Math.max(500, (Number.isFinite(seconds) ? seconds : 2) * 1000)))
        if (fetchingFileFor !== d.id) return
        continue
      }
      if (response.status === 404) {
        // Expired or already removed: the card can only mislead now, so clear it.
        showNotice(
          'This file is no longer available — it may have expired. Please generate a new one.',
        )
        pendingDismissId = d.id
        flushPendingDismiss()
        return
      }
      showNotice(
        response.status === 503
          ? 'Your file isn’t available on this server yet. Please try again in a moment.'
          : `Couldn’t fetch your file (HTTP ${response.status}). Please try again.`,
      )
      return
    }
  } finally {
    if (fetchingFileFor === d.id) fetchingFileFor = null
    render()
  }
}

// ------------------------------------------------------------------------------------------
// Notice

let noticeTimer = 0
let noticeHeld = false

function showNotice(text) {
  el.noticeText.textContent = text
  el.notice.hidden = false
  armNoticeTimer()
}

function hideNotice() {
  clearTimeout(noticeTimer)
  el.notice.hidden = true
}

function armNoticeTimer() {
  clearTimeout(noticeTimer)
  if (noticeHeld) return
  noticeTimer = setTimeout(hideNotice, NOTICE_MS)
}

function holdNotice(held) {
  noticeHeld = held
  if (held) clearTimeout(noticeTimer)
  else if (!el.notice.hidden) armNoticeTimer()
}

// ------------------------------------------------------------------------------------------
// Rendering

const formatTime = (ms) =>
  typeof ms === 'number' && Number.isFinite(ms)
    ? new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : null

/** Sets a paragraph to text with the node name emphasised, e.g. "Running on [n2]". */
function setDetail(before, node, after = '') {
  el.detail.replaceChildren()
  if (!node) {
    el.detail.textContent = (before + after).trim()
    return
  }
  const name = document.createElement('span')
  name.className = 'node'
  name.textContent = node
  el.detail.append(before, name, after)
}

function render() {
  const online = status === 'open'
  el.card.setAttribute('aria-busy', String(current === undefined))
  el.card.dataset.offline = String(!online && current !== undefined)

  el.loading.hidden = current !== undefined
  el.idle.hidden = current !== null
  el.download.hidden = !current

  // Idle
  const requesting = awaiting === 'request'
  el.request.disabled = requesting || !online
  el.request.setAttribute('aria-busy', String(requesting))
  el.request.title = online ? '' : 'Waiting for the connection…'
  const done = downloadedId !== null
  el.idle.dataset.done = String(done)
  if (done) {
    el.idleTitle.textContent = 'Your download has started'
    el.idleText.textContent =
      'Find it in your browser’s downloads. Need a fresh copy? Generate another.'
  } else {
    el.idleTitle.textContent = 'Ready when you are'
    el.idleText.textContent = 'It takes a few seconds. You’ll see the progress here.'
  }

  // Download
  if (current) {
    const d = current
    const percent = Math.floor(d.progress)
    const running = d.state === 'pending' || d.state === 'processing'
    const dismissing = awaiting === 'dismiss'

    el.download.dataset.state = d.state
    el.download.dataset.id = d.id
    el.download.dataset.progress = String(percent)

    const stateText = d.state === 'pending' && percent > 0 ? 'Resuming…' : STATE_TEXT[d.state]
    if (el.state.textContent !== stateText) el.state.textContent = stateText

    const node = typeof d.ownerName === 'string' && d.ownerName ? d.ownerName : null
    if (d.state === 'pending') setDetail(node ? 'Waiting for node ' : 'Waiting for a worker', node)
    else if (d.state === 'processing') setDetail(node ? 'Running on node ' : 'Running', node)
    else if (d.state === 'ready') {
      const until = formatTime(d.expiresAt)
      setDetail(node ? 'Built on node ' : 'Built', node, until ? ` · available until ${until}` : '')
    } else setDetail(node ? 'Stopped on node ' : '', node)

    el.meter.hidden = d.state === 'error'
    el.progress.setAttribute('aria-valuenow', String(percent))
    el.progress.setAttribute('aria-valuetext', `${percent}%`)
    el.progressBar.style.transform = `scaleX(${percent / 100})`
    el.percent.textContent = `${percent}%`

    el.errorMessage.hidden = d.state !== 'error'
    el.errorMessage.textContent =
      d.state === 'error' ? d.error || 'The PDF could not be generated.' : ''

    el.fileLink.hidden = d.state !== 'ready'
    if (d.state === 'ready' && d.fileUrl) el.fileLink.setAttribute('href', fileHref(d))
    const fetching = fetchingFileFor === d.id
    el.fileLink.setAttribute('aria-disabled', String(fetching || dismissing))
    el.fileLinkLabel.textContent = fetching ? 'Preparing your PDF…' : 'Download your PDF'

    el.hint.hidden = !running
    el.cancel.hidden = !running
    el.cancel.disabled = dismissing || !online
    el.dismiss.hidden = d.state !== 'error'
    el.dismiss.disabled = dismissing || !online
  }

  keepFocusInCard()
}

/** Whether keyboard focus was last inside the card (and not moved elsewhere on purpose). */
let focusInCard = false

/**
 * Keeps keyboard users in the card when the control they used is hidden or disabled (the
 * "Download PDF" button once clicked, "Cancel" once the card clears): focus goes to the
 * control that matters now, or to the state heading while the download runs.
 */
function keepFocusInCard() {
  if (!focusInCard) return
  const active = document.activeElement
  const lost =
    !active ||
    active === document.body ||
    (el.card.contains(active) && (active.disabled || active.closest('[hidden]') !== null))
  if (!lost) return
  const target = current === null ? el.request : current ? primaryControl(current) : null
  if (target && !target.disabled && !target.closest('[hidden]')) target.focus()
  else if (current) focusHeading()
}

function primaryControl(d) {
  if (d.state === 'ready') return el.fileLink
  if (d.state === 'error') return el.dismiss
  return null
}

function focusHeading() {
  el.state.setAttribute('tabindex', '-1')
  el.state.focus({ preventScroll: true })
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
el.fileLink.addEventListener('click', onFileLinkClick)
el.noticeClose.addEventListener('click', hideNotice)
el.notice.addEventListener('mouseenter', () => holdNotice(true))
el.notice.addEventListener('mouseleave', () => holdNotice(false))
el.notice.addEventListener('focusin', () => holdNotice(true))
el.notice.addEventListener('focusout', () => holdNotice(false))
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && !el.notice.hidden) hideNotice()
})
window.addEventListener('online', reconnectNow)
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') reconnectNow()
})

render()
connect()
