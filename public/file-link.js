// The file link. The click is checked first with a HEAD request: if the file is not there
// (expired, or not yet on the node that serves this page), the browser would save an error
// page and the card would be cleared, losing the file. Only a good answer lets the click go.

/** A node that does not have the file yet answers 503 + Retry-After; retry this many times. */
const FILE_RETRIES = 5
/**
 * A check that got no answer (a dropped packet's retransmissions, a node that stopped
 * answering) is tried again this many times, after 1 s, then 2 s: on a lossy link a trial's
 * first check failed after 13 s, and the user was told to try again by hand. A check under way
 * after `CHECK_TIMEOUT_MS` counts as unanswered: a paused node holds it open for good.
 */
const UNANSWERED_RETRIES = 2
const CHECK_TIMEOUT_MS = 8000

/** @param {number} ms */
const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * How long to wait before asking again: the server's Retry-After, within reason.
 *
 * @param {Response} response
 */
function retryAfterMs(response) {
  const header = response.headers.get('retry-after')
  const seconds = header === null ? 2 : Number(header)
  return Math.min(5000, Math.max(500, (Number.isFinite(seconds) ? seconds : 2) * 1000))
}

/** @typedef {import('./record.js').Download} Download */

/**
 * @param {object} o
 * @param {HTMLAnchorElement} o.link
 * @param {() => Download | null | undefined} o.current  the download on the card
 * @param {(d: Download) => string} o.href  where its file is fetched from
 * @param {() => boolean} o.dismissing  the card is about to clear: leave the link alone
 * @param {(text: string) => void} o.notify
 * @param {() => void} o.render
 * @param {(id: string) => void} o.downloaded  the browser has been let through to the file
 * @param {(id: string) => void} o.gone  the file no longer exists: its card should go
 * @param {typeof fetch} [o.fetch]  (tests)
 * @param {(ms: number) => Promise<unknown>} [o.sleep]  (tests)
 */
export function createFileLink(o) {
  const request = o.fetch ?? ((url, init) => fetch(url, init))
  const sleep = o.sleep ?? wait
  /** The file link is being checked / retried; holds the download id. */
  let fetchingFor = /** @type {string | null} */ (null)
  /** A click on the file link that should go through to the browser (after the check). */
  let armedFor = /** @type {string | null} */ (null)

  /** @param {MouseEvent} event */
  async function onClick(event) {
    const d = o.current()
    if (!d || d.state !== 'ready' || !d.fileUrl) {
      event.preventDefault()
      return
    }
    if (armedFor === d.id) {
      // The checked, programmatic click: let the browser download, then clear the card.
      armedFor = null
      o.downloaded(d.id)
      return
    }
    event.preventDefault()
    if (fetchingFor || o.dismissing()) return
    fetchingFor = d.id
    o.render()
    try {
      for (let i = 0, unanswered = 0; ;) {
        let response
        try {
          response = await request(o.href(d), {
            method: 'HEAD',
            credentials: 'include',
            cache: 'no-store',
            signal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
          })
        } catch {
          if (fetchingFor !== d.id) return
          if (unanswered++ < UNANSWERED_RETRIES) {
            // Asked again where the page is by then: it may have moved to another member.
            await sleep(1000 * unanswered)
            if (fetchingFor !== d.id) return
            continue
          }
          o.notify(
            'Couldn’t reach the server to fetch your file. Check your connection and try again.',
          )
          return
        }
        if (fetchingFor !== d.id) return
        if (response.ok) {
          armedFor = d.id
          o.link.click()
          return
        }
        if (response.status === 503 && i++ < FILE_RETRIES) {
          await sleep(retryAfterMs(response))
          if (fetchingFor !== d.id) return
          continue
        }
        if (response.status === 404) {
          // Expired or already removed: the card can only mislead now, so clear it.
          o.notify(
            'This file is no longer available — it may have expired. Please generate a new one.',
          )
          o.gone(d.id)
          return
        }
        o.notify(
          response.status === 503
            ? 'Your file isn’t available on this server yet. Please try again in a moment.'
            : `Couldn’t fetch your file (HTTP ${response.status}). Please try again.`,
        )
        return
      }
    } finally {
      if (fetchingFor === d.id) fetchingFor = null
      o.render()
    }
  }

  return {
    onClick,
    /** @param {string} id */
    isFetching: (id) => fetchingFor === id,
    /** The socket dropped: abandon a check under way, so the link can be tried again. */
    stop() {
      fetchingFor = null
    },
    /** Another download (or none) is on the card: forget this one's link. */
    reset() {
      fetchingFor = null
      armedFor = null
    },
  }
}
