/**
 * The default generator: spends `workMs` "working" in ticks, reporting progress and a
 * checkpoint at every tick, then renders a report PDF. Resuming from a checkpoint continues
 * the remaining work only, so a takeover does not start from zero.
 */
import type { Checkpoint } from '../store/record.ts'
import type { BytesFile, Generator, Job, RunContext, Sleep } from './generator.ts'
import { sleep as sleepOn, systemClock, type Clock } from '../clock.ts'
import { renderReport } from './pdf.ts'
import { RenderQueue } from './render-queue.ts'

/** One render per turn across every generator of the process: CPU is what they share. */
const renders = new RenderQueue()
let warmed = false

/**
 * The first render of a process takes 100 to 300 ms (PDFKit reads and parses its font
 * metrics, the JIT is cold): done once when a generator is made, not in the first downloads.
 */
function warmUp(): void {
  if (warmed) return
  warmed = true
  const at = Date.now()
  renders
    .run(() =>
      renderReport({
        id: 'warm-up',
        userId: '-',
        requestedAt: at,
        startedAt: at,
        finishedAt: at,
        workMs: 0,
        attempts: '-',
      }),
    )
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
}: PdfGeneratorOptions): Generator<BytesFile> {
  const now = () => clock.now()
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
      const bytes = await renders.run(() =>
        renderReport({
          id: job.id,
          userId: job.userId,
          requestedAt: job.createdAt,
          startedAt: p.startedAt,
          finishedAt: now(),
          workMs,
          attempts: p.attempts,
        }),
      )
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
