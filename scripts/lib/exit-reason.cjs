// Preloaded into each test file's process (scripts/test.mjs): when a file ends before uvu has
// reported (passed or failed), it says how. uvu only prints "Exiting early before testing is
// finished", which a CI log then cannot explain (a process.exit() from a library, or a loop
// that drained while a test awaited a promise nothing would settle).
// A worker thread loads it too (NODE_OPTIONS) and has a `process` of its own, whose end is
// the thread's (a test may end one on purpose), not the file's.
const mainThread = require('node:worker_threads').isMainThread
let drained = false
process.on('beforeExit', () => (drained = true))
process.on('exit', (code) => {
  if (!mainThread) return
  // uvu sets exitCode (0, or 1 on a failed test) once it has reported; undefined means it
  // never got there.
  if (drained && process.exitCode !== undefined) return
  const how = drained
    ? 'the event loop drained (nothing left to wait on)'
    : `process.exit(${code}) or a fatal error, called from:\n${new Error().stack}`
  const left = process.getActiveResourcesInfo().join(', ') || 'none'
  console.error(
    `[exit-reason] exit code ${code}: ${how}\n[exit-reason] resources still open: ${left}`,
  )
})
