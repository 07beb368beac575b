/**
 * A generator's `report(progress, checkpoint)`, read: progress as a whole percent 0-99 (100 is
 * the file being ready, which only the worker says) and a checkpoint of the record's shape,
 * or what is wrong with them, for the worker to fail the download with.
 */
import { parseCheckpoint, type Checkpoint } from '../store/record.ts'

/**
 * A job called `report` wrongly: its bug, not an outage, so the download fails at once rather
 * than be tried again to the same end (worker.ts).
 */
export class ReportMisuse extends TypeError {
  constructor(problem: string) {
    super(`report(progress, checkpoint): ${problem}`)
    this.name = 'TypeError'
  }
}

export function readReport(
  reported: unknown,
  given: unknown,
): { progress: number; checkpoint: Checkpoint } | { problem: string } {
  if (typeof reported !== 'number' || !Number.isFinite(reported))
    return { problem: `progress must be a number, got ${described(reported)}` }
  // 100 is a job saying its work is done: shown as 99 until the file is stored.
  if (reported < 0 || reported > 100)
    return { problem: `progress must be a percent from 0 to 100, got ${reported}` }
  const checkpoint = parseCheckpoint(given)
  if (!checkpoint)
    return { problem: 'checkpoint must be a flat object of strings, numbers, booleans and nulls' }
  return { progress: Math.min(99, Math.floor(reported)), checkpoint }
}

/** A value as a job author would read it in a message: `"30"` is not `30`. */
function described(v: unknown): string {
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`
  if (typeof v === 'object' && v !== null) return Array.isArray(v) ? 'an array' : 'an object'
  return String(v)
}
