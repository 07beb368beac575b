// The notice: a toast for what the card cannot say (errors, "not connected"). It goes away by
// itself, but not while the pointer or keyboard focus is on it, so it is not pulled from under
// someone reading it; its close button and Escape dismiss it at once.

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

  function arm() {
    clearTimeout(timer)
    if (held) return
    timer = setTimeout(hide, NOTICE_MS)
  }

  /**
   * @param {string} message
   * @param {'error' | 'warning' | 'info'} [tone]  warning: the service is impaired, and the
   *   page waits it out by itself; info: nothing went wrong, something the user should know
   */
  function show(message, tone = 'error') {
    text.textContent = message
    box.dataset.tone = tone
    box.hidden = false
    arm()
  }

  function hide() {
    clearTimeout(timer)
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

  return { show, hide }
}
