// @ts-check
// The page's indicators beyond the card: the connection pill (its status, the node in use, or
// that no server can be reached and when the page tries again) and the tab's title.

/** @typedef {import('./view.js').Elements} Elements */
/** @typedef {import('./record.js').Download} Download */
/** @typedef {import('./connection.js').Status} Status */

/**
 * @param {Elements} el
 * @param {Status} status
 * @param {string} [endpoint]  the URL of the socket that just opened
 */
export function renderConnection(el, status, endpoint) {
  if (endpoint) el.connection.dataset.endpoint = endpoint
  el.connection.dataset.status = status
  el.connectionText.textContent =
    status === 'open' ? 'Live' : status === 'reconnecting' ? 'Reconnecting…' : 'Connecting…'
  el.connection.title =
    status === 'open'
      ? 'Connected: progress updates live'
      : status === 'reconnecting'
        ? 'Connection lost; trying again'
        : 'Connecting to the server'
}

/**
 * The connection indicator's words beyond its status: the node the page is on (and whether it
 * is cut off from most of its cluster), or, when no server can be reached, that it cannot and
 * when it tries again.
 *
 * @param {Elements} el
 * @param {{ node: string | null, cutOff?: boolean, unreachable: boolean, retryInMs: number | null }} r
 */
export function renderReach(el, r) {
  const status = el.connection.dataset.status
  el.connection.dataset.unreachable = String(r.unreachable)
  el.connection.dataset.cutOff = String(Boolean(r.cutOff))
  if (status === 'open' && r.cutOff) {
    el.connectionText.textContent = r.node ? `Cut off · ${r.node}` : 'Cut off'
    el.connection.title = `${r.node ? `Node ${r.node}` : 'This server'} reaches too few of its cluster’s servers to run downloads; it carries on once it reaches them again`
  } else if (status === 'open') {
    el.connectionText.textContent = r.node ? `Live · ${r.node}` : 'Live'
    el.connection.title = r.node
      ? `Connected to node ${r.node}: progress updates live`
      : 'Connected: progress updates live'
  } else if (r.unreachable) {
    const s = r.retryInMs === null ? null : Math.ceil(r.retryInMs / 1000)
    el.connectionText.textContent =
      s === null || s <= 0
        ? 'No server reachable · retrying…'
        : `No server reachable · retrying in ${s} s`
    el.connection.title = 'None of the cluster’s servers answers; the page keeps trying'
  }
}

/** The page's own title, for the tab. */
const BASE_TITLE = document.title

/**
 * The tab's title says how the download is doing: "42 % · Generating…", "Ready", "Failed".
 *
 * @param {Download | null | undefined} d
 */
export function renderTitle(d) {
  const title = !d
    ? BASE_TITLE
    : d.state === 'ready'
      ? `Ready · ${BASE_TITLE}`
      : d.state === 'error'
        ? `Failed · ${BASE_TITLE}`
        : `${Math.floor(d.progress)} % · ${BASE_TITLE}`
  if (document.title !== title) document.title = title
}
