/**
 * The thread of render-thread.ts: renders each report it is sent and answers with its bytes
 * or its error. It lowers its own priority first (a nice of 10, Linux: this thread only), so
 * that the node's event loop, which relays progress and keeps heartbeats, comes first.
 */
import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'
import { parentPort } from 'node:worker_threads'
import { renderReport, type ReportFields } from './pdf.ts'

const NICE = 10

try {
  // "/proc/thread-self" names this thread's task: "<pid>/task/<tid>".
  setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), NICE)
} catch {
  // Not Linux, or not allowed: the thread still takes the renders off the event loop.
}

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
