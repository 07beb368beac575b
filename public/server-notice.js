// @ts-check
// What the page's notice says of a server message that is not a download: a refusal, or that
// its node is cut off. Pure, so the page's words are tested in Node (page-reconnect.test.ts).

/**
 * @typedef {{ text: string, tone: 'error' | 'warning' | 'info' }} Notice
 */

/** @param {unknown} text @param {string} otherwise */
const said = (text, otherwise) => (typeof text === 'string' && text ? text : otherwise)

/**
 * A refusal (`error`). A conflict while the page shows a live download is no mistake of the
 * user's: another tab (or device) of theirs asked first, and its download is the one shown.
 *
 * @param {Record<string, unknown>} message
 * @param {import('./record.js').Download | null | undefined} current
 * @returns {Notice}
 */
export function errorNotice(message, current) {
  const live = current && current.state !== 'ready' && current.state !== 'error'
  if (message.code === 'conflict' && live)
    return {
      text: 'This download was already started, from another tab or window: it is the one shown here.',
      tone: 'info',
    }
  return { text: said(message.message, 'Something went wrong.'), tone: 'error' }
}

/**
 * The node is cut off from most of its cluster; `moving`: whether the page leaves for another
 * member (connection.js) or stays. A warning, not an error: nothing the user did, and the page
 * carries on by itself.
 *
 * @param {Record<string, unknown>} message
 * @param {boolean} moving
 * @returns {Notice}
 */
export function cutOffNotice(message, moving) {
  const why = said(message.message, 'This server is cut off from most of its cluster.')
  return {
    text: moving
      ? `${why} Moving to another server…`
      : `${why} The other servers do not answer either: this page stays, and carries on as soon as they are back.`,
    tone: 'warning',
  }
}
