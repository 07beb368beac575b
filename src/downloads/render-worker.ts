/**
 * The thread of render-thread.ts: renders each report it is sent and answers with its bytes
 * or its error. It lowers its own priority first (thread-priority.ts: this thread only), so
 * that the node's event loop, which relays progress and keeps heartbeats, comes first.
 */
import { parentPort } from 'node:worker_threads'
import { lowerThisThread } from '../thread-priority.ts'
import { renderReport, type ReportFields } from './pdf.ts'

// Not Linux, or not allowed: the thread still takes the renders off the event loop.
lowerThisThread()

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
