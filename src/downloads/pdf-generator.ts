/**
 * The default generator: spends `workMs` "working" in ticks, reporting progress and a
 * checkpoint at every tick, then renders a report PDF. Resuming from a checkpoint continues
 * the remaining work only, so a takeover does not start from zero.
 */
import type { Checkpoint } from '../store/record.ts'
import type { BytesFile, Generator, Job, RunContext, Sleep } from './generator.ts'
import { sleep as sleepOn, systemClock, type Clock } from '../clock.ts'
import type { Logger } from '../logger.ts'
import { renderReport, type ReportFields } from './pdf.ts'
import { RenderQueue } from './render-queue.ts'
import { RenderThread } from './render-thread.ts'

/**
 * One thread renders for every generator of the process (render-thread.ts); should it fail,
 * the event loop renders, one render per turn (render-queue.ts).
 */
const onLoop = new RenderQueue()
/** Who hears that the thread was given up: the last generator made with a logger. */
let warnTo: Logger | null = null
const renders = new RenderThread({
  fallback: (fields) => onLoop.run(() => renderReport(fields)),
  onGiveUp: (reason) =>
    warnTo?.warn('render-thread-failed', { error: reason, now: 'rendering on the event loop' }),
})
let warmed = false

/**
 * The first render of a thread takes 100 to 300 ms (PDFKit reads and parses its font
 * metrics, the JIT is cold), and starting the thread about as long again: done once when a
 * generator is made, not in the first downloads.
 */
function warmUp(): void {
  if (warmed) return
  warmed = true
  const at = Date.now()
  renders
    .render({
      id: 'warm-up',
      userId: '-',
      requestedAt: at,
      startedAt: at,
      finishedAt: at,
      workMs: 0,
      attempts: '-',
    })
    .catch(() => undefined) // a real render reports the same failure where it matters
}

export interface PdfGeneratorOptions {
  workMs: number
  /** Interval between progress reports; must stay under 200 ms. @default 100 */
  tickMs?: number
  /** The node's clock: the report's times and the pace of the work. */
  clock?: Clock
  /** Tests only: how the work waits (instant in unit tests). Defaults to the clock's timers. */
  sleep?: Sleep
  /** Where a failure of the rendering thread is told (rendering goes on without it). */
  log?: Logger
}

interface Progress {
  workedMs: number
  startedAt: number
  attempts: string
}

function readCheckpoint(job: Job, workMs: number, now: number, node: string): Progress {
  const cp = job.checkpoint
  const workedMs =
    typeof cp?.workedMs === 'number'
      ? Math.min(cp.workedMs, workMs)
      : Math.round((job.progress / 100) * workMs)
  const startedAt = typeof cp?.startedAt === 'number' ? cp.startedAt : now
  const previous = typeof cp?.attempts === 'string' ? cp.attempts : ''
  const here = `${node} from ${Math.floor((100 * workedMs) / workMs)}%`
  return { workedMs, startedAt, attempts: previous ? `${previous}, ${here}` : here }
}

export function createPdfGenerator({
  workMs,
  tickMs = 100,
  clock = systemClock,
  sleep = (ms, signal) => sleepOn(clock, ms, signal),
  log,
}: PdfGeneratorOptions): Generator<BytesFile> {
  const now = () => clock.now()
  if (log) warnTo = log
  warmUp()
  return {
    name: 'pdf',
    label: 'PDF',
    async run(job: Job, ctx: RunContext) {
      const p = readCheckpoint(job, workMs, now(), job.nodeName)
      const checkpoint = (): Checkpoint => ({ ...p })
      while (p.workedMs < workMs) {
        const step = Math.min(tickMs, workMs - p.workedMs)
        await sleep(step, ctx.signal)
        p.workedMs += step
        // 100 is reserved for "ready": the file is not written until the run returns.
        ctx.report(Math.min(99, Math.floor((100 * p.workedMs) / workMs)), checkpoint())
      }
      const fields: ReportFields = {
        id: job.id,
        userId: job.userId,
        requestedAt: job.createdAt,
        startedAt: p.startedAt,
        finishedAt: now(),
        workMs,
        attempts: p.attempts,
      }
      const bytes = await renders.render(fields)
      return { bytes, filename: `report-${job.id}.pdf`, contentType: 'application/pdf' }
    },
  }
}

/** Works like the default until `failAtPercent`, then throws: for demos and tests. */
export function createFailingGenerator(
  options: PdfGeneratorOptions & { failAtPercent: number },
): Generator<BytesFile> {
  const inner = createPdfGenerator(options)
  return {
    name: 'failing',
    label: 'PDF',
    run(job, ctx) {
      const controller = new AbortController()
      const failure = new Error(
        `The generator failed at ${options.failAtPercent}% (simulated failure)`,
      )
      ctx.signal.addEventListener('abort', () => controller.abort(ctx.signal.reason), {
        once: true,
      })
      return inner.run(job, {
        signal: controller.signal,
        report(progress, checkpoint) {
          if (progress >= options.failAtPercent) controller.abort(failure)
          else ctx.report(progress, checkpoint)
        },
      })
    },
  }
}
