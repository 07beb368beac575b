/** One readable line per event that matters, tagged with the node's name. */

export type Fields = Record<string, string | number | boolean | null | undefined>

export interface Logger {
  info(event: string, fields?: Fields): void
  warn(event: string, fields?: Fields): void
  error(event: string, fields?: Fields): void
}

export function createLogger(name: string, write: (line: string) => void = defaultWrite): Logger {
  const line = (level: string, event: string, fields: Fields = {}) => {
    const parts = [
      new Date().toISOString().slice(11, 23),
      name,
      level === 'info' ? '' : level.toUpperCase(),
      event,
    ]
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

function defaultWrite(line: string): void {
  process.stdout.write(line + '\n')
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} }
