/**
 * What a job threw, and where. Where a job's error was thrown, for the node's log: the first frame of its stack in the
 * job's own code (not Node's, a package's, nor this one's), as `/path/job.mjs:12:9`. The user
 * is shown the error's message, and its author needs the place (a new user's trial: a job's
 * `database unreachable` in the log said nothing of where).
 */
import { fileURLToPath } from 'node:url'
import { types } from 'node:util'

/** This package's own code: `src/` run by tsx, `dist/` once built. */
const OWN = ['src', 'dist'].map((dir) => fileURLToPath(new URL(`../../${dir}/`, import.meta.url)))

export function thrownAt(err: unknown): string | undefined {
  const stack = err instanceof Error && typeof err.stack === 'string' ? err.stack : ''
  for (const line of stack.split('\n')) {
    const frame = /^\s+at (?:.*? \()?(.+?):(\d+):(\d+)\)?$/.exec(line)
    if (!frame) continue
    let file = frame[1]!
    if (file.startsWith('file://')) file = fileURLToPath(file)
    if (file.startsWith('node:') || file.includes('/node_modules/')) continue
    if (OWN.some((dir) => file.startsWith(dir))) continue
    return `${file}:${frame[2]}:${frame[3]}`
  }
  return undefined
}

/**
 * What a job threw, as a message for its user: a job may throw anything, and `undefined` or
 * `[object Object]` on the page says nothing.
 */
export function thrownMessage(err: unknown): string {
  // An Error of another realm (a vm context, a worker's) is one too.
  if (err instanceof Error || types.isNativeError(err)) return err.message || err.name
  if (typeof err === 'string' && err !== '') return err
  const without = (what: string) => `The job failed without a message (it threw ${what}).`
  if (err === undefined || err === null || err === '')
    return without(JSON.stringify(err) ?? 'undefined')
  if (typeof err === 'object') {
    try {
      const json = JSON.stringify(err)
      if (json && json !== '{}' && json !== '[]')
        return json.length > 200 ? `${json.slice(0, 199)}…` : json
    } catch {
      // A cycle, or a getter that throws: said below.
    }
    return without(Object.prototype.toString.call(err))
  }
  return String(err)
}
