/**
 * A node's log lines read back (src/logger.ts writes `HH:MM:SS.mmm name [LEVEL] event k=v…`),
 * and the spans in which each node ran a worker for each download, for tests that check no
 * download ever had two workers at once. The nodes share this machine's clock.
 */

export interface LogLine {
  /** Epoch ms (today, UTC, as the logger prints it). */
  at: number
  node: string
  level: 'info' | 'warn' | 'error'
  event: string
  fields: Record<string, string>
}

const LINE = /^(\d\d):(\d\d):(\d\d)\.(\d\d\d) (\S+) (?:(WARN|ERROR) )?(\S+)(.*)$/
const FIELD = /(\S+?)=("(?:[^"\\]|\\.)*"|\S*)/g

export function parseLine(line: string, today = new Date()): LogLine | null {
  const m = LINE.exec(line)
  if (!m) return null
  const [, h, min, s, ms, node, level, event, rest] = m
  const at = Date.UTC(
    today.getUTCFullYear(),
    today.getUTCMonth(),
    today.getUTCDate(),
    Number(h),
    Number(min),
    Number(s),
    Number(ms),
  )
  const fields: Record<string, string> = {}
  for (const [, k, v] of rest!.matchAll(FIELD))
    fields[k!] = v!.startsWith('"') ? (JSON.parse(v!) as string) : v!
  return {
    at,
    node: node!,
    level: level === 'WARN' ? 'warn' : level === 'ERROR' ? 'error' : 'info',
    event: event!,
    fields,
  }
}

export interface WorkerSpan {
  id: string
  node: string
  from: number
  /** When the worker ended, or its process died; Infinity while it runs. */
  to: number
}

const STARTS = new Set(['start', 'resume'])
const ENDS = new Set(['stopped', 'ready', 'failed', 'worker-halted', 'worker-failed'])

/**
 * The spans each node ran a worker for each download in: from its `start` or `resume` line to
 * the line that ended it, or to the moment its process was killed (`killedAt`, by node name).
 */
export function workerSpans(lines: LogLine[], killedAt: Map<string, number>): WorkerSpan[] {
  const open = new Map<string, WorkerSpan>()
  const spans: WorkerSpan[] = []
  for (const l of [...lines].sort((a, b) => a.at - b.at)) {
    const id = l.fields.id
    if (!id) continue
    const key = `${l.node} ${id}`
    if (STARTS.has(l.event)) {
      const span = { id, node: l.node, from: l.at, to: Infinity }
      open.set(key, span)
      spans.push(span)
    } else if (ENDS.has(l.event)) {
      const span = open.get(key)
      if (span) span.to = l.at
      open.delete(key)
    }
  }
  for (const span of open.values()) span.to = killedAt.get(span.node) ?? Infinity
  return spans
}
