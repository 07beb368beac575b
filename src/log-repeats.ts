/**
 * Keeps a warning or an error that repeats from flooding a node's log. Many of them fire on a
 * heartbeat (ten a second), on every message of a peer, on every sweep or request: one peer of
 * another version, or a fault that lasts, would write one line per event for as long as it
 * lasts, and fill the disk the node also watches. So the first `burst` lines like it (the same
 * level and event, about the same subject) in a window of `windowMs` are written as they come,
 * and the rest of the window's are held back and counted; when the window ends, the last of
 * them is written with `repeats=N`, how many were held back (that line among them), and the
 * next window starts. A fault that lasts so gives a few lines a minute; one that stops gives its
 * count within a minute. The burst keeps what happens a few times a minute in order and on
 * time: a state that changes and changes back (`quorum-lost`, then the info line
 * `quorum-regained`), a download's retries and its failure.
 *
 * Info lines pass as they are: they say what happened to a download, at the pace users act.
 */
import type { Clock, Timer } from './clock.ts'
import type { Fields, Logger } from './logger.ts'

/**
 * The fields that name what a line is about: two downloads' (or two peers') failures are two
 * subjects, each told; the rest (an error's text, a duration) vary from one line to the next
 * and would make every repeat a line of its own.
 */
const SUBJECT_FIELDS = [
  'id',
  'user',
  'peer',
  'member',
  'from',
  'to',
  'file',
  'key',
  'type',
  'job',
  'dir',
]

/** Past this many subjects in one window, lines are told apart by their event only. */
const MAX_KEYS = 10_000

export interface RepeatLimitOptions {
  clock: Clock
  /** @default 60000 */
  windowMs?: number
  /** Lines of one subject written as they come in a window, before any is held. @default 5 */
  burst?: number
}

interface Window {
  until: number
  /** Lines written as they came in this window. */
  written: number
  held: number
  /** When the last line held back came: the line that says so is written later. */
  lastAt: number
  level: 'warn' | 'error'
  event: string
  fields: Fields | undefined
}

export interface LimitedLogger extends Logger {
  /** Writes what is held back and stops the timer. */
  close(): void
}

export function limitRepeats(
  log: Logger,
  { clock, windowMs = 60_000, burst = 5 }: RepeatLimitOptions,
): LimitedLogger {
  const windows = new Map<string, Window>()
  let timer: Timer | null = null
  let closed = false

  const write = (w: Window) =>
    log[w.level](
      w.event,
      w.held > 0
        ? { ...w.fields, repeats: w.held, lastAt: new Date(w.lastAt).toISOString() }
        : w.fields,
    )

  // Ends the windows that are over: what they held is written, and a subject still repeating
  // gets a window of its own again (so at most `burst` lines a window, that one counted); a
  // quiet one is forgotten.
  const sweep = () => {
    const now = clock.now()
    for (const [key, w] of windows) {
      if (now < w.until) continue
      if (w.held === 0) {
        windows.delete(key)
        continue
      }
      write(w)
      w.held = 0
      w.written = 1
      w.until = now + windowMs
    }
    if (windows.size === 0 && timer !== null) {
      clock.clearInterval(timer)
      timer = null
    }
  }

  const limited = (level: 'warn' | 'error') => (event: string, fields?: Fields) => {
    // A line after close (a late callback of a closed node) is written: a timer started now
    // would keep the process alive after the app closed the node.
    if (closed) return log[level](event, fields)
    const subject = SUBJECT_FIELDS.map((k) => fields?.[k] ?? '').join('\u0000')
    let key = `${level}\u0000${event}\u0000${subject}`
    if (!windows.has(key) && windows.size >= MAX_KEYS) key = `${level}\u0000${event}`
    const now = clock.now()
    const w = windows.get(key)
    if (w && now < w.until) {
      if (w.written < burst) {
        w.written++
        return log[level](event, fields)
      }
      w.held++
      w.fields = fields
      w.lastAt = now
      return
    }
    // A window that ended with lines held back and no sweep yet: they are written first, so
    // that a line with `repeats=N` always stands for N lines, itself the last of them.
    if (w && w.held > 0) write(w)
    log[level](event, fields)
    const fresh = { until: now + windowMs, written: 1, held: 0, lastAt: now, level, event, fields }
    windows.set(key, fresh)
    timer ??= clock.setInterval(sweep, Math.max(1000, windowMs / 4))
  }

  return {
    info: (event, fields) => log.info(event, fields),
    warn: limited('warn'),
    error: limited('error'),
    close() {
      closed = true
      for (const w of windows.values()) if (w.held > 0) write(w)
      windows.clear()
      if (timer !== null) clock.clearInterval(timer)
      timer = null
    },
  }
}
