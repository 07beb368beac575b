/** A logger that keeps what it is told, so a test can wait for an event or assert on one. */
import type { Fields, Logger } from '../../src/logger.ts'

export interface LogEntry {
  level: 'info' | 'warn' | 'error'
  event: string
  fields: Fields
}

export interface RecordingLogger extends Logger {
  entries: LogEntry[]
  /** The entries of one event. */
  events(event: string): LogEntry[]
}

export function recordingLogger(): RecordingLogger {
  const entries: LogEntry[] = []
  const at =
    (level: LogEntry['level']) =>
    (event: string, fields: Fields = {}) => {
      entries.push({ level, event, fields })
    }
  return {
    entries,
    events: (event) => entries.filter((e) => e.event === event),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  }
}
