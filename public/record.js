// @ts-check
// A download record as the page uses it, and the rule for adopting a newer copy. Pure: the
// page and the unit tests use the same code.

/** @typedef {'pending' | 'processing' | 'ready' | 'error'} State */

/**
 * A record from the server, with `state` and `progress` made safe to render. The other
 * fields (ownerName, fileUrl, expiresAt, error…) are passed through as sent.
 *
 * @typedef {{ id: string, state: State, progress: number, [field: string]: unknown }} Download
 */

const STATES = ['pending', 'processing', 'ready', 'error']

/**
 * @param {unknown} state
 * @returns {state is State}
 */
const isState = (state) => typeof state === 'string' && STATES.includes(state)

/**
 * A record as the page uses it, or null; anything malformed counts as no download.
 *
 * @param {unknown} d  the `download` field of a server message
 * @returns {Download | null}
 */
export function normalize(d) {
  if (!d || typeof d !== 'object') return null
  const record = /** @type {Record<string, unknown>} */ (d)
  if (typeof record.id !== 'string') return null
  const progress = Number(record.progress)
  return {
    ...record,
    id: record.id,
    state: isState(record.state) ? record.state : 'pending',
    progress: Number.isFinite(progress) ? Math.min(100, Math.max(0, progress)) : 0,
  }
}

/**
 * The record to show once `next` arrives, never going backwards for the same download:
 * progress only grows and a download seen ready stays ready (a lagging node may still hold an
 * older copy of it). Returns `current` itself when `next` is such a stale copy.
 *
 * @param {Download | null | undefined} current  undefined: nothing heard from the server yet
 * @param {Download | null} next
 * @returns {Download | null}
 */
export function mergeRecord(current, next) {
  if (!next) return null
  if (!current || current.id !== next.id) {
    return next.state === 'ready' ? { ...next, progress: 100 } : next
  }
  if (current.state === 'ready' && next.state !== 'ready' && next.state !== 'error') return current
  const progress = next.state === 'ready' ? 100 : Math.max(current.progress, next.progress)
  return {
    ...next,
    progress,
    state: sameRunStillPending(current, next) ? current.state : next.state,
  }
}

/**
 * A running download told as pending by a node that has not heard its worker yet: a page that
 * just moved there gets the log's copy first, which says pending while a worker runs (its
 * ticks say it runs, and come a moment later). The same run (epoch and attempt) with no retry
 * waiting is no step back: the page keeps "processing" rather than flash "Resuming…". A
 * takeover or a retry is a new run, told as it is.
 *
 * @param {Download} current
 * @param {Download} next
 */
function sameRunStillPending(current, next) {
  return (
    current.state === 'processing' &&
    next.state === 'pending' &&
    next.retryAt == null &&
    next.epoch === current.epoch &&
    next.attempt === current.attempt
  )
}

/**
 * The takeover `next` tells of, if it is one: another node runs the download, at a later epoch,
 * from the checkpoint it resumed from. That is the record's own progress, not what the page
 * showed, which `mergeRecord` keeps from going back: the work since that checkpoint is made
 * again, and the page said it resumed from where its bar stood (a user's trial: "from 27 %",
 * the node's log `from=20%`).
 *
 * @param {Download | null | undefined} current
 * @param {Download | null} next
 * @returns {{ from: string, to: string, at: number } | null}
 */
export function takeoverOf(current, next) {
  if (!current || !next || current.id !== next.id) return null
  if (!(Number(next.epoch) > Number(current.epoch))) return null
  if (next.ownerName === current.ownerName) return null
  // A bar held above the checkpoint comes with the checkpoint's own progress (`savedProgress`).
  const saved = Number(next.savedProgress)
  return {
    from: String(current.ownerName ?? ''),
    to: String(next.ownerName ?? ''),
    at: Math.floor(Number.isFinite(saved) ? Math.min(saved, next.progress) : next.progress),
  }
}

/**
 * A run of the download started again by the node that runs it, behind the bar the page holds:
 * a tick measured after the last one seen (`lastAt`) and lower than the bar. One run's ticks
 * only grow, so this is another run: its node restarted (a whole cluster stopped at once, and
 * the checkpoint copies its successors held with it) and resumed from the log's checkpoint. A
 * takeover (another node) is `takeoverOf`'s, a retry says so itself. Before, the page's bar
 * stood still and said nothing while the work was made again (a user's trial: 3.5 s at 42 %).
 *
 * @param {Download | null | undefined} current
 * @param {Download | null} next
 * @param {number} lastAt  when the last tick seen of this download was measured
 * @returns {{ from: string, to: string, at: number, rerun: true } | null}
 */
export function rerunOf(current, next, lastAt) {
  if (!current || !next || current.id !== next.id) return null
  if (current.state !== 'processing' || next.state !== 'processing') return null
  if (next.ownerName !== current.ownerName) return null
  const at = Number(next.progressAt)
  if (!Number.isFinite(at) || !(at > lastAt) || !(next.progress < current.progress)) return null
  const node = String(next.ownerName ?? '')
  return { from: node, to: node, at: Math.floor(next.progress), rerun: true }
}

/**
 * @typedef {{ from: string, to: string, at: number, rerun?: boolean }} Takeover
 * @typedef {{ takeover: Takeover | null, measuredAt: number }} RunStory  who runs the download
 *   shown and how it got there: its last takeover, or its run started again by its own node
 *   (told once), and when its last tick was measured
 */

/** @type {RunStory} */
export const NO_RUN = { takeover: null, measuredAt: -Infinity }

/**
 * The story of the download shown once `next` arrives: the card says a takeover or a run
 * started again until the download is gone; another download starts afresh.
 *
 * @param {RunStory} run
 * @param {Download | null | undefined} current
 * @param {Download | null} next
 * @returns {RunStory}
 */
export function followRun(run, current, next) {
  const from = next && current && next.id === current.id ? run : NO_RUN
  const took =
    from === NO_RUN
      ? null
      : (takeoverOf(current, next) ??
        (from.takeover ? null : rerunOf(current, next, from.measuredAt)))
  const at = Number(next?.progressAt)
  return {
    takeover: took ?? from.takeover,
    measuredAt: Number.isFinite(at) ? Math.max(from.measuredAt, at) : from.measuredAt,
  }
}

/**
 * Whether the node running this download has left the live members, before a takeover says
 * who resumes it. A running download is `pending` in the log until its first checkpoint there
 * (its ticks say it runs), so both states count: a pending one named its dead node as the one
 * it waited for.
 *
 * @param {Download | null | undefined} d
 * @param {Set<string> | null} liveNames  null: the members are not known yet
 */
export function ownerGone(d, liveNames) {
  if (!d || !liveNames || (d.state !== 'processing' && d.state !== 'pending')) return false
  return typeof d.ownerName === 'string' && d.ownerName !== '' && !liveNames.has(d.ownerName)
}
