/**
 * The thread of render-thread.ts: renders each report it is sent and answers with its bytes
 * or its error. It lowers its own priority first (thread-priority.ts: this thread only), so
 * that the node's event loop, which relays progress and keeps heartbeats, comes first.
 */
import { parentPort } from 'node:worker_threads'
import { lowerThisThread } from '../thread-priority.ts'
import { renderReport, type ReportFields } from './pdf.ts'

/**
 * Reports rendered as the thread starts, before downloads need it: V8 compiles PDFKit's code
 * as it gets hot, and a fresh thread's renders took 2 to 3 ms each for the first few dozen,
 * about 1 ms from the fiftieth on (DESIGN.md, "The job"). Real renders are served between
 * them; the process is never held for them (the thread is unref'd while idle).
 */
const WARM_UP_RENDERS = 50

// Not Linux, or not allowed: the thread still takes the renders off the event loop.
lowerThisThread()
void warmUp()

parentPort?.on('message', (m: { id: number; fields: ReportFields }) => {
  renderReport(m.fields).then(
    (rendered) => {
      // Its own buffer, handed over: a small Buffer is a view of a shared pool.
      const bytes = new Uint8Array(rendered)
      parentPort!.postMessage({ id: m.id, bytes }, [bytes.buffer])
    },
    (err: Error) => parentPort!.postMessage({ id: m.id, error: err.message }),
  )
})

async function warmUp(): Promise<void> {
  const at = Date.now()
  const fields = {
    id: 'warm-up',
    userId: 'warm-up',
    requestedAt: at,
    startedAt: at,
    finishedAt: at,
    workMs: 0,
    attempts: 'warm-up',
  }
  for (let i = 0; i < WARM_UP_RENDERS; i++) {
    // A failure here is a real render's failure too, reported there.
    if (
      !(await renderReport(fields).then(
        () => true,
        () => false,
      ))
    )
      return
  }
}
