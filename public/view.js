// What the page shows: its elements, the connection indicator, and the card in whichever state
// the page is in, redrawn whole from that state on every change. It also keeps keyboard focus
// in the card when the control in use disappears.

/** @typedef {import('./record.js').Download} Download */
/** @typedef {import('./connection.js').Status} Status */

/**
 * @typedef {object} CardState
 * @property {boolean} online  the socket is open
 * @property {Download | null | undefined} current  undefined: not heard from the server yet;
 *   null: no download
 * @property {'request' | 'dismiss' | null} awaiting  an action sent and not yet answered
 * @property {boolean} downloaded  the user fetched the file of the download just cleared
 * @property {boolean} fetching  the file link is being checked
 * @property {string | null} fileHref  where the file is, once it is ready
 * @property {boolean} focusInCard  keyboard focus was last inside the card
 * @property {import('./record.js').Takeover | null} takeover  the download's last takeover:
 *   the node that stopped, the one that resumed it, from what progress; `rerun`: its own node
 *   started it again (record.js, `followRun`)
 * @property {boolean} ownerGone  the node running it is no longer a live member
 * @property {boolean} [cutOff]  the node in use is cut off from most of its cluster: what it
 *   knows of a running download may be old, and no node on its side runs it
 */

/** @param {string} id */
const $ = (id) => {
  const node = document.getElementById(id)
  if (!node) throw new Error(`#${id} is missing from the page`)
  return node
}

/** The elements of index.html that the page script reads or changes. */
export function findElements() {
  return {
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
    retry: $('retry'),
    connection: $('connection'),
    connectionText: $('connection-text'),
    notice: $('notice'),
    noticeText: $('notice-text'),
    noticeClose: $('notice-close'),
  }
}

/** @typedef {ReturnType<typeof findElements>} Elements */

/** What the node's job makes, as the page calls it ("PDF", "CSV export", "file"). */
const LABEL = document.documentElement.dataset.label || 'PDF'

const STATE_TEXT = {
  pending: 'Queued…',
  processing: `Generating your ${LABEL}…`,
  ready: `Your ${LABEL} is ready`,
  error: `We couldn’t create your ${LABEL}`,
}

/** @param {unknown} n */
const count = (n) => (typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : null)

/**
 * "attempt 2 of 3" while a download is past its first attempt; else empty.
 *
 * @param {Download} d
 */
function attemptText(d) {
  const attempt = count(d.attempt)
  const attempts = count(d.attempts)
  return attempt && attempts && attempt > 1 ? `attempt ${attempt} of ${attempts}` : ''
}

/** @param {unknown} ms */
const formatClock = (ms) =>
  typeof ms === 'number' && Number.isFinite(ms)
    ? new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })
    : null

/** @param {unknown} ms */
const formatTime = (ms) =>
  typeof ms === 'number' && Number.isFinite(ms)
    ? new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : null

/**
 * Sets a paragraph to text with the node name emphasised, e.g. "Running on [n2]".
 *
 * @param {HTMLElement} detail
 * @param {string} before
 * @param {string | null} node
 */
function setDetail(detail, before, node, after = '') {
  detail.replaceChildren()
  if (!node) {
    detail.textContent = (before + after).trim()
    return
  }
  const name = document.createElement('span')
  name.className = 'node'
  name.textContent = node
  detail.append(before, name, after)
}

/**
 * @param {Elements} el
 * @param {CardState} s
 */
export function renderCard(el, s) {
  const { online, current } = s
  el.card.setAttribute('aria-busy', String(current === undefined))
  el.card.dataset.offline = String(!online && current !== undefined)

  el.loading.hidden = current !== undefined
  el.idle.hidden = current !== null
  el.download.hidden = !current

  // Idle
  const requesting = s.awaiting === 'request'
  el.request.disabled = requesting || !online
  el.request.setAttribute('aria-busy', String(requesting))
  el.request.title = online ? '' : 'Waiting for the connection…'
  el.idle.dataset.done = String(s.downloaded)
  if (s.downloaded) {
    // The browser's download of the file, which outlives the card the user cleared.
    el.idleTitle.textContent = 'Your file is in your browser’s downloads'
    el.idleText.textContent = 'Need a fresh copy? Generate another.'
  } else {
    el.idleTitle.textContent = 'Ready when you are'
    el.idleText.textContent = 'It takes a few seconds. You’ll see the progress here.'
  }

  // Download
  if (current) {
    const d = current
    const percent = Math.floor(d.progress)
    const running = d.state === 'pending' || d.state === 'processing'
    const dismissing = s.awaiting === 'dismiss'

    el.download.dataset.state = d.state
    el.download.dataset.id = d.id
    el.download.dataset.progress = String(percent)

    const retrying = d.state === 'pending' && typeof d.retryAt === 'number'
    const stateText = retrying
      ? 'Retrying…'
      : d.state === 'pending' && percent > 0
        ? 'Resuming…'
        : STATE_TEXT[d.state]
    if (el.state.textContent !== stateText) el.state.textContent = stateText

    const node = typeof d.ownerName === 'string' && d.ownerName ? d.ownerName : null
    const attempt = attemptText(d)
    const took = s.takeover
    if (s.cutOff && running) {
      // Its own worker is stopped, and a majority elsewhere may run it unseen from here.
      setDetail(el.detail, 'Waiting for the cluster: this server cannot reach most of it', null)
    } else if (s.ownerGone && node) {
      // Between a node's death and its successor's takeover: no "Running on" a dead node.
      setDetail(el.detail, 'Node ', node, ' stopped; another node is resuming it…')
    } else if (took && (d.state === 'processing' || d.state === 'pending') && node) {
      if (took.rerun)
        setDetail(el.detail, 'Started again on node ', node, ' from its last checkpoint')
      else
        setDetail(el.detail, `${took.from} stopped; resumed on node `, node, ` from ${took.at} %`)
    } else if (retrying) {
      // The last attempt's failure, and when the next one starts (from where it stopped).
      const at = formatClock(d.retryAt)
      const why = typeof d.error === 'string' && d.error ? `: ${d.error}` : ''
      setDetail(
        el.detail,
        `That didn’t work${why}. Trying again${at ? ` at ${at}` : ''} (${attempt}).`,
        null,
      )
    } else if (d.state === 'pending') {
      setDetail(el.detail, node ? 'Waiting for node ' : 'Waiting for a worker', node)
    } else if (d.state === 'processing') {
      setDetail(
        el.detail,
        node ? 'Running on node ' : 'Running',
        node,
        attempt ? ` · ${attempt}` : '',
      )
    } else if (d.state === 'ready') {
      const until = formatTime(d.expiresAt)
      const after = until ? ` · available until ${until}` : ''
      const from = took
        ? took.rerun
          ? ' after it was started again'
          : ` after ${took.from} stopped`
        : ''
      setDetail(el.detail, node ? 'Built on node ' : 'Built', node, from + after)
    } else setDetail(el.detail, node ? 'Stopped on node ' : '', node)

    el.meter.hidden = d.state === 'error'
    el.progress.setAttribute('aria-valuenow', String(percent))
    el.progress.setAttribute('aria-valuetext', `${percent}%`)
    el.progressBar.style.transform = `scaleX(${percent / 100})`
    el.percent.textContent = `${percent}%`

    el.errorMessage.hidden = d.state !== 'error'
    const tries = count(d.attempt)
    el.errorMessage.textContent =
      d.state === 'error'
        ? (d.error || `The ${LABEL} could not be generated.`) +
          (tries && tries > 1 ? ` (after ${tries} attempts)` : '')
        : ''

    el.fileLink.hidden = d.state !== 'ready'
    if (s.fileHref) el.fileLink.setAttribute('href', s.fileHref)
    el.fileLink.setAttribute('aria-disabled', String(s.fetching || dismissing))
    el.fileLinkLabel.textContent = s.fetching
      ? `Preparing your ${LABEL}…`
      : `Download your ${LABEL}`

    // Ready: the link stays until the file expires, whether fetched or not, and "Clear" ends it.
    el.hint.hidden = !running && !(d.state === 'ready' && s.downloaded)
    el.hint.textContent = running
      ? 'You can leave this page meanwhile.'
      : `Downloaded. You can download it again until ${formatTime(d.expiresAt) ?? 'it expires'}.`
    el.cancel.hidden = !running
    el.cancel.disabled = dismissing || !online
    el.dismiss.hidden = d.state !== 'error' && d.state !== 'ready'
    el.dismiss.textContent = d.state === 'ready' ? 'Clear' : 'Dismiss'
    el.dismiss.disabled = dismissing || !online
    el.retry.hidden = d.state !== 'error'
    el.retry.disabled = dismissing || s.awaiting !== null || !online
  }

  if (s.focusInCard) keepFocusInCard(el, current)
}

/**
 * Keeps keyboard users in the card when the control they used is hidden or disabled (the
 * "Download PDF" button once clicked, "Cancel" once the card clears): focus goes to the
 * control that matters now, or to the state heading while the download runs.
 *
 * @param {Elements} el
 * @param {Download | null | undefined} current
 */
function keepFocusInCard(el, current) {
  const active = /** @type {any} */ (document.activeElement)
  const lost =
    !active ||
    active === document.body ||
    (el.card.contains(active) && (active.disabled || active.closest('[hidden]') !== null))
  if (!lost) return
  const target = current === null ? el.request : current ? primaryControl(el, current) : null
  if (target && !target.disabled && !target.closest('[hidden]')) target.focus()
  else if (current) focusHeading(el)
}

/**
 * @param {Elements} el
 * @param {Download} d
 */
function primaryControl(el, d) {
  if (d.state === 'ready') return el.fileLink
  if (d.state === 'error') return el.retry
  return null
}

/** @param {Elements} el */
function focusHeading(el) {
  el.state.setAttribute('tabindex', '-1')
  el.state.focus({ preventScroll: true })
}
