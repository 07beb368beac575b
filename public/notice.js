// The notice: a toast for what the card cannot say (errors, "not connected"). It goes away by
// itself, but not while the pointer or keyboard focus is on it, so it is not pulled from under
// someone reading it, nor while what it says lasts (a node cut off from its cluster: a user's
// trial found the page, 8 s on, with only a small pill and a button that could do nothing);
// its close button and Escape dismiss it at once.

/** How long a notice stays up unless hovered or focused. */
const NOTICE_MS = 8000

/**
 * @param {HTMLElement} box  the toast, shown and hidden as a whole
 * @param {HTMLElement} text  where its message goes
 * @param {HTMLElement} close  its close button
 */
export function createNotice(box, text, close) {
  let timer = 0
  let held = false
  let lasting = false

  function arm() {
    clearTimeout(timer)
    if (held || lasting) return
    timer = setTimeout(hide, NOTICE_MS)
  }

  /**
   * @param {string} message
   * @param {'error' | 'warning' | 'info'} [tone]  warning: the service is impaired, and the
   *   page waits it out by itself; info: nothing went wrong, something the user should know
   * @param {{ lasting?: boolean }} [o]  lasting: it stays until hidden, replaced or `ended`
   */
  function show(message, tone = 'error', o = {}) {
    text.textContent = message
    box.dataset.tone = tone
    box.hidden = false
    lasting = o.lasting === true
    arm()
  }

  /** What a lasting notice said is over, or no longer known: it goes away by itself now. */
  function ended() {
    if (!lasting) return
    lasting = false
    if (!box.hidden) arm()
  }

  function hide() {
    clearTimeout(timer)
    lasting = false
    box.hidden = true
  }

  /** @param {boolean} on  whether the pointer or focus is on the notice */
  function hold(on) {
    held = on
    if (on) clearTimeout(timer)
    else if (!box.hidden) arm()
  }

  close.addEventListener('click', hide)
  box.addEventListener('mouseenter', () => hold(true))
  box.addEventListener('mouseleave', () => hold(false))
  box.addEventListener('focusin', () => hold(true))
  box.addEventListener('focusout', () => hold(false))
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !box.hidden) hide()
  })

  return { show, hide, ended }
}
