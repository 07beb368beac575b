/**
 * Opening one base of the record log (log-moves.ts): a LogBase whose events are the record
 * log's while it is the base this node is on, and whose opening, in a move, is bounded.
 */
import type { EventEmitter } from 'node:events'
import type Corestore from 'corestore'
import type { RecordOp } from './record.ts'
import type { RecordLogEvents } from './log-events.ts'
import { LogBase, type LogBaseOptions } from './log-base.ts'
import { within, type Clock } from '../clock.ts'

/** Where a move goes: an existing base (an adoption) or a new one (a compaction, key null). */
export interface Target {
  key: string | null
  namespace: string
  generation: number
  /** How long a peer said the base was: what to read of it before carrying what it lacks. */
  length: number
}

/** What every base of a record log is opened with. */
export interface BaseOpeningOptions {
  store: Corestore
  ackIntervalMs: number
  batchMs: number
  /** The longest opening may take in a move (`bounded`). */
  moveStepMs: number
  clock: Clock
  onError: (err: Error) => void
  onSlowRead?: LogBaseOptions['onSlowRead']
  onOwnWriter?: LogBaseOptions['onOwnWriter']
  stallMs?: number
  apply?: LogBaseOptions['apply']
}

/** What opening a base needs of the record log that holds it. */
export interface BaseHolder {
  events: EventEmitter<RecordLogEvents>
  /** Whether `base` is the base this node is on (its events pass only then). */
  isCurrent(base: LogBase): boolean
  /** Autobase failed and closed itself (LogBaseOptions, `onFailed`). */
  failed(base: LogBase, err: Error): void
  /** Its update made no headway for too long (LogBaseOptions, `onStalled`). */
  stalled(base: LogBase, err: Error): void
}

/**
 * Opens the base `target` with its table seeded with `seed`. Bounded (a move) it fails after
 * `moveStepMs`; at start it waits, as there is nothing else to be on. A base that fails to open
 * is closed again here.
 */
export async function openBase(
  o: BaseOpeningOptions,
  holder: BaseHolder,
  target: Target,
  seed: RecordOp[],
  bounded: boolean,
): Promise<LogBase> {
  const base: LogBase = new LogBase({
    store: o.store.namespace(target.namespace),
    key: target.key === null ? null : Buffer.from(target.key, 'hex'),
    seed,
    generation: target.generation,
    ackIntervalMs: o.ackIntervalMs,
    batchMs: o.batchMs,
    clock: o.clock,
    onError: o.onError,
    onFailed: (err) => holder.failed(base, err),
    onSlowRead: o.onSlowRead,
    onOwnWriter: o.onOwnWriter,
    stallMs: o.stallMs,
    apply: o.apply,
    onStalled: (err) => holder.stalled(base, err),
  })
  const { events } = holder
  base.on('change', (ids) => {
    if (holder.isCurrent(base)) events.emit('change', ids)
  })
  base.on('advert', () => {
    if (holder.isCurrent(base)) events.emit('advert')
  })
  base.on('landed', (ops) => {
    if (holder.isCurrent(base)) events.emit('landed', ops)
  })
  base.on('fast-forward', (to, from) => {
    if (holder.isCurrent(base)) events.emit('fast-forward', to, from)
  })
  try {
    await (bounded
      ? within(o.clock, o.moveStepMs, `opening the log ${target.key?.slice(0, 12)}`, base.ready())
      : base.ready())
  } catch (err) {
    // Waited for a while only: a base whose opening hangs may hang closing too.
    await within(o.clock, 5000, 'closing', base.close()).catch(() => {})
    throw err
  }
  return base
}
