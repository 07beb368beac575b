/**
 * A generator's `report(progress, checkpoint)`, read: progress as a whole percent 0-99 (100 is
 * the file being ready, which only the worker says) and a checkpoint of the record's shape,
 * or what is wrong with them, for the worker to fail the attempt with.
 */
import { parseCheckpoint, type Checkpoint } from '../store/record.ts'

export function readReport(
  reported: unknown,
  given: unknown,
): { progress: number; checkpoint: Checkpoint } | { problem: string } {
  if (typeof reported !== 'number' || !Number.isFinite(reported))
    return { problem: `progress must be a number, got ${String(reported)}` }
  const checkpoint = parseCheckpoint(given)
  if (!checkpoint)
    return { problem: 'checkpoint must be a flat object of strings, numbers, booleans and nulls' }
  return { progress: Math.max(0, Math.min(99, Math.floor(reported))), checkpoint }
}
