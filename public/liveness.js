// @ts-check
// Whether the page's node still talks. A node that is paused (SIGSTOP, `docker pause`, a
// suspended VM) or hung keeps its socket open and silent: the browser waits on it for as long
// as TCP does (minutes, or for ever), the page shows a bar that stands still and says "Live".
// So the page asks when it has heard nothing for a while (`ping`, answered `pong` at once by
// the node's loop) and leaves a node that does not answer, as it leaves one that closed; and
// it gives up on a socket that does not open (a paused node's kernel still accepts the
// connection, and Chromium waits minutes for the upgrade's answer). Pure: time is passed in.

/** Nothing heard for this long: the page asks. Progress comes every 200 ms while it runs. */
export const QUIET_MS = 4000
/** A ping not answered within this: the node is silent, the page leaves it. */
export const ANSWER_WITHIN_MS = 4000
/** A socket not open after this is given up, as one that failed to open. */
export const OPEN_WITHIN_MS = 10_000
/** How often the page looks. A throttled background tab looks less often, never wrongly. */
export const LOOK_EVERY_MS = 1000

/**
 * @typedef {object} Liveness
 * @property {number} startedAt  when the socket was created
 * @property {number | null} openedAt  when it opened, or null
 * @property {number} heardAt  the latest message (or the opening)
 * @property {number | null} pingedAt  the latest ping, or null
 */

/**
 * @param {number} now
 * @returns {Liveness}
 */
export const started = (now) => ({ startedAt: now, openedAt: null, heardAt: now, pingedAt: null })

/**
 * @param {Liveness} s
 * @param {number} now
 * @returns {Liveness}
 */
export const opened = (s, now) => ({ ...s, openedAt: now, heardAt: now })

/**
 * @param {Liveness} s
 * @param {number} now
 * @returns {Liveness}
 */
export const heard = (s, now) => ({ ...s, heardAt: now })

/**
 * @param {Liveness} s
 * @param {number} now
 * @returns {Liveness}
 */
export const pinged = (s, now) => ({ ...s, pingedAt: now })

/**
 * What to do now. A ping counts as answered by anything heard since it went, so a look that a
 * throttled tab makes late finds the answer that came meanwhile and does not leave.
 *
 * @param {Liveness} s
 * @param {number} now
 * @returns {'wait' | 'ping' | 'leave'}
 */
export function nextStep(s, now) {
  if (s.openedAt === null) return now - s.startedAt >= OPEN_WITHIN_MS ? 'leave' : 'wait'
  if (s.pingedAt !== null && s.heardAt < s.pingedAt)
    return now - s.pingedAt >= ANSWER_WITHIN_MS ? 'leave' : 'wait'
  return now - s.heardAt >= QUIET_MS ? 'ping' : 'wait'
}
