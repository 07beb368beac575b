// A job of your own: an invoice export as CSV, one row per invoice.
//
//   npm run node -- --generator examples/csv-export.mjs
//   (with the package installed: copy this file beside your app, then
//    npx pdf-cluster --generator ./csv-export.mjs)
//
// and a request such as {"type":"request","params":{"month":"2026-03","rows":5000}}.
//
// The rows stand for a query your job can run again cheaply by key (here they are generated
// from the month, the same every time); the slow part is the work done for each row (here a
// short wait per batch, standing for a call to another service), summed into a running total.
// The checkpoint is what that work has produced so far: the next row to do and the total up to
// it. An attempt that starts from a checkpoint, on this node after a retry or on another after
// this one died, skips the rows already done and carries the total on, so the file has every
// row once and a total that counts each once.

import { Readable } from 'node:stream'

const MAX_ROWS = 1_000_000
/** Rows worked on between two progress reports (and checkpoints). */
const BATCH = 50

/** @type {import('pdf-cluster').Generator} */
export default {
  name: 'csv-export',
  /** What the page calls the file: "Download your CSV export". */
  label: 'CSV export',

  /** Returns what is wrong with the parameters, for the user; nothing when they will do. */
  validate(params) {
    if (typeof params.month !== 'string' || !/^\d{4}-(0[1-9]|1[0-2])$/.test(params.month))
      return 'month must be a month as YYYY-MM, e.g. "2026-03"'
    const rows = params.rows ?? 1000
    if (!Number.isInteger(rows) || rows < 1 || rows > MAX_ROWS)
      return `rows must be a whole number from 1 to ${MAX_ROWS}`
    if (params.batchMs !== undefined && !(Number.isInteger(params.batchMs) && params.batchMs >= 0))
      return 'batchMs must be a whole number of milliseconds'
    return null
  },

  async run(job, ctx) {
    const { month } = job.params
    const rows = job.params.rows ?? 1000
    const batchMs = job.params.batchMs ?? 20
    // Where the last attempt got to, or the start.
    let row = typeof job.checkpoint?.row === 'number' ? job.checkpoint.row : 0
    let totalCents = typeof job.checkpoint?.totalCents === 'number' ? job.checkpoint.totalCents : 0

    while (row < rows) {
      const end = Math.min(rows, row + BATCH)
      await sleep(batchMs, ctx.signal)
      for (; row < end; row++) totalCents += invoice(month, row).cents
      ctx.report(Math.floor((99 * row) / rows), { row, totalCents })
    }

    return {
      filename: `invoices-${month}.csv`,
      contentType: 'text/csv; charset=utf-8',
      // Streamed: the node writes it to its store as it comes, however large.
      stream: Readable.from(csv(month, rows, totalCents), { objectMode: false }),
    }
  },
}

/** The invoice at `index` of a month: the same every time it is asked for. */
function invoice(month, index) {
  let h = 2166136261
  for (const c of `${month}#${index}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0
  return {
    number: `INV-${month}-${String(index + 1).padStart(7, '0')}`,
    customer: `customer-${(h % 997) + 1}`,
    cents: 100 + (h % 99_900),
  }
}

function* csv(month, rows, totalCents) {
  yield 'number,customer,amount\n'
  let lines = []
  for (let i = 0; i < rows; i++) {
    const { number, customer, cents } = invoice(month, i)
    lines.push(`${number},${customer},${(cents / 100).toFixed(2)}\n`)
    if (lines.length === 1000) {
      yield lines.join('')
      lines = []
    }
  }
  yield lines.join('') + `TOTAL,,${(totalCents / 100).toFixed(2)}\n`
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const abort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', abort)
      resolve()
    }, ms)
    signal.addEventListener('abort', abort, { once: true })
  })
}
