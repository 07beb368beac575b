/**
 * The report's rendering on a thread of its own, at a lower priority than the node's event
 * loop. PDFKit lays a document out in one synchronous stretch (0.7 ms warm, 3 to 6 ms for a
 * process's first renders); on the event loop, even one render per turn (render-queue.ts),
 * a burst's renders took turns with everything else the node does on one core, while the
 * machine's other core could have rendered. On a thread they run beside the loop: bursts of
 * downloads complete sooner (DESIGN.md, "The job"). The thread's lower priority keeps it
 * from taking the CPU from the loop, which answers heartbeats, when the machine is short of it.
 *
 * If the thread cannot start or dies, the renders it held and every later one are made on the
 * event loop by `fallback`, and `onGiveUp` says so once: a download never fails for the
 * thread's sake.
 */
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { ReportFields } from './pdf.ts'

interface Reply {
  id: number
  bytes?: Uint8Array
  error?: string
}

interface Waiting {
  fields: ReportFields
  resolve(bytes: Buffer): void
  reject(err: Error): void
}

export interface RenderThreadOptions {
  /** Renders on the event loop, once the thread is given up. */
  fallback(fields: ReportFields): Promise<Buffer>
  /** Told once, with why, when the thread is given up. */
  onGiveUp?(reason: string): void
  /** Tests: starts another thread than render-worker's. */
  start?(): Worker
}

export class RenderThread {
  private worker: Worker | null = null
  private gaveUp = false
  private next = 0
  private readonly waiting = new Map<number, Waiting>()

  constructor(private readonly o: RenderThreadOptions) {}

  render(fields: ReportFields): Promise<Buffer> {
    if (!this.worker && !this.gaveUp) this.open()
    const worker = this.worker
    if (!worker) return this.o.fallback(fields)
    const id = this.next++
    // Held while it has work, as any pending I/O is; idle, it never keeps a process alive.
    if (this.waiting.size === 0) worker.ref()
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { fields, resolve, reject })
      worker.postMessage({ id, fields })
    })
  }

  /** Renders waiting for the thread. */
  get length(): number {
    return this.waiting.size
  }

  /** Whether renders are made on the event loop now. */
  get onLoop(): boolean {
    return this.gaveUp
  }

  private open(): void {
    let worker: Worker
    try {
      worker = (this.o.start ?? startRenderWorker)()
    } catch (err) {
      return this.giveUp((err as Error).message)
    }
    worker.on('message', (m: Reply) => {
      const w = this.waiting.get(m.id)
      if (!w) return
      this.waiting.delete(m.id)
      if (this.waiting.size === 0) worker.unref()
      if (m.bytes) w.resolve(Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength))
      else w.reject(new Error(m.error ?? 'the render failed'))
    })
    worker.on('error', (err) => this.giveUp(err.message))
    worker.on('exit', (code) => this.giveUp(`it exited with code ${code}`))
    // Idle until a render comes (after the listeners: adding a 'message' one refs it again).
    worker.unref()
    this.worker = worker
  }

  private giveUp(reason: string): void {
    if (this.gaveUp) return
    this.gaveUp = true
    const worker = this.worker
    this.worker = null
    void worker?.terminate().catch(() => undefined)
    this.o.onGiveUp?.(reason)
    for (const [id, w] of this.waiting) {
      this.waiting.delete(id)
      this.o.fallback(w.fields).then(w.resolve, w.reject)
    }
  }
}

/**
 * render-worker beside this file: its .js when built; from the sources, through tsx, which a
 * thread does not inherit from its process's `--import tsx` on Node 20.
 */
function startRenderWorker(): Worker {
  if (!import.meta.url.endsWith('.ts'))
    return new Worker(new URL('./render-worker.js', import.meta.url))
  const path = fileURLToPath(new URL('./render-worker.ts', import.meta.url))
  // tsx's CommonJS hook, in the thread itself: its ESM one would start a hooks thread of its
  // own (another 25 MB). Written to run as either kind of script, as a thread inherits the
  // process's `--input-type`, and to find tsx from here rather than from the working directory.
  const boot = `import('node:module').then((m) => {
    const require = m.createRequire(${JSON.stringify(path)})
    require('tsx/cjs/api').register()
    require(${JSON.stringify(path)})
  })`
  return new Worker(boot, { eval: true })
}
