/**
 * One line per event that matters, tagged with the node's name: readable text by default, or
 * one JSON object per line (`--log-format json`, through pino) for log shippers, with `time`,
 * `node`, `level`, `event` and the event's fields. A download's lines carry its `id`, so one
 * grep follows it across nodes.
 */
import pino from 'pino'

export type Fields = Record<string, string | number | boolean | null | undefined>

export interface Logger {
  info(event: string, fields?: Fields): void
  warn(event: string, fields?: Fields): void
  error(event: string, fields?: Fields): void
}

export const LOG_FORMATS = ['text', 'json'] as const
export type LogFormat = (typeof LOG_FORMATS)[number]

export interface LoggerOptions {
  /** @default 'text' */
  format?: LogFormat
  /** Where each line goes (without its newline). @default stdout */
  write?: (line: string) => void
  /** The time of a text line (tests). @default Date.now */
  now?: () => number
}

export function createLogger(
  name: string,
  { format = 'text', write, now = Date.now }: LoggerOptions = {},
): Logger {
  return format === 'json' ? jsonLogger(name, write) : textLogger(name, write ?? defaultWrite, now)
}

/** The day each node's text lines were last dated with, by where they are written. */
const daysDated = new WeakMap<(line: string) => void, Map<string, string>>()

/**
 * A readable line: the time of day (UTC, to the millisecond), the node, the level unless info,
 * the event and its fields. The date has a line of its own (`date utc=…`), before the first
 * line and the first of each new day: on every line it would be ten characters of noise, and
 * without it a log kept for months could not say which day a line was of.
 */
function textLogger(name: string, write: (line: string) => void, now: () => number): Logger {
  // Per destination and node: the loggers of one node (main.ts, node-runner.ts, node.ts) write
  // one date line between them.
  const days = daysDated.get(write) ?? new Map<string, string>()
  daysDated.set(write, days)
  const line = (level: string, event: string, fields: Fields = {}) => {
    const at = new Date(now()).toISOString()
    if (at.slice(0, 10) !== days.get(name)) {
      days.set(name, at.slice(0, 10))
      write(`${at.slice(11, 23)} ${name} date utc=${at.slice(0, 10)}`)
    }
    const parts = [at.slice(11, 23), name, level === 'info' ? '' : level.toUpperCase(), event]
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue
      const s = String(v)
      parts.push(`${k}=${/[\s"=]/.test(s) ? JSON.stringify(s) : s}`)
    }
    write(parts.filter(Boolean).join(' '))
  }
  return {
    info: (e, f) => line('info', e, f),
    warn: (e, f) => line('warn', e, f),
    error: (e, f) => line('error', e, f),
  }
}

function jsonLogger(name: string, write?: (line: string) => void): Logger {
  const destination = write
    ? { write: (line: string) => write(line.replace(/\n$/, '')) }
    : // Synchronous: a node stopping right after a line must not lose it.
      pino.destination({ dest: 1, sync: true })
  const p = pino(
    {
      base: { node: name },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  )
  // An event's fields sit beside it; `event` names it (pino's own `msg` stays unused).
  const line = (level: 'info' | 'warn' | 'error', event: string, fields: Fields = {}) =>
    p[level]({ ...fields, event })
  return {
    info: (e, f) => line('info', e, f),
    warn: (e, f) => line('warn', e, f),
    error: (e, f) => line('error', e, f),
  }
}

function defaultWrite(line: string): void {
  process.stdout.write(line + '\n')
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} }

/**
 * An error thrown by this node's own code where none was expected (a bug), as fields for its
 * line: the message, and where it was thrown (the stack's first frames), for a report; for
 * several errors together, where the first was. Only an Error has a stack: for anything else
 * thrown there is no place to tell.
 */
export function bugFields(err: unknown): Fields {
  if (!(err instanceof Error)) return { error: String(err) }
  const first =
    err instanceof AggregateError && err.errors[0] instanceof Error ? err.errors[0] : err
  const frames = (first.stack ?? '')
    .split('\n')
    .filter((l) => /^\s+at /.test(l))
    .slice(0, 3)
    .map((l) => l.trim().replace(/^at /, ''))
  return { error: err.message, thrownAt: frames.join(' < ') || undefined }
}
