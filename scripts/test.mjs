#!/usr/bin/env node
// Runs the tests of one stage, each file in its own Node process (uvu + tsx) so nodes started
// by one file cannot leak into another, and ends with one plain line: "N passed, N failed".
//
//   node scripts/test.mjs fast [filter]   test/unit and test/integration, in parallel
//   node scripts/test.mjs e2e [filter]    test/e2e (real processes, chaos, the browser), one at a time
//
// A file's output is printed whole when it ends, so parallel files never interleave.
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const STAGES = {
  fast: { dirs: ['test/unit', 'test/integration'], parallel: availableParallelism() },
  // Timing-sensitive: they measure failover on real processes, so they do not share the cores.
  e2e: { dirs: ['test/e2e'], parallel: 1 },
}
const FILE_TIMEOUT_MS = 5 * 60 * 1000
/** Says how a file's process ended when it was not a clean pass. */
const EXIT_REASON = fileURLToPath(new URL('./lib/exit-reason.cjs', import.meta.url))

const [stageName = 'fast', filter] = process.argv.slice(2)
const stage = STAGES[stageName]
if (!stage) {
  console.error(`unknown stage ${JSON.stringify(stageName)}; expected one of: fast, e2e`)
  process.exit(2)
}
const files = stage.dirs
  .flatMap((dir) => readdirSync(dir).map((f) => join(dir, f)))
  .filter((f) => f.endsWith('.test.ts') && (!filter || f.includes(filter)))
  .sort()

/** How to kill each running file's process group: on the way out, however it goes. */
const groups = new Set()
const killAll = () => groups.forEach((kill) => kill())
process.on('exit', killAll)
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'])
  process.once(signal, () => {
    killAll()
    process.exit(130)
  })

let passed = 0
let failed = 0
const failures = []
const started = Date.now()

const queue = [...files]
await Promise.all(
  Array.from({ length: Math.min(stage.parallel, files.length) }, async () => {
    for (let file = queue.shift(); file; file = queue.shift()) count(file, await run(file))
  }),
)

if (failures.length) console.log(`\nfailed files: ${failures.join(', ')}`)
console.log(`stage ${stageName}: ${files.length} files in ${seconds(Date.now() - started)}`)
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed > 0 || files.length === 0 ? 1 : 0)

function count(file, { code, output, ms }) {
  process.stdout.write(output)
  const total = Number(/Total:\s+(\d+)/.exec(output)?.[1] ?? NaN)
  const ok = Number(/Passed:\s+(\d+)/.exec(output)?.[1] ?? NaN)
  if (Number.isNaN(total) || Number.isNaN(ok)) {
    // The file crashed before uvu could report: count it as one failure.
    failed += 1
    failures.push(`${file} (crashed, exit ${code})`)
  } else {
    passed += ok
    // uvu's total counts the tests that ran; its skipped ones are not among them.
    const bad = total - ok
    failed += bad
    if (bad > 0 || code !== 0) failures.push(file)
    if (bad === 0 && code !== 0) failed += 1
  }
  console.log(`-- ${file}: ${seconds(ms)}`)
}

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`
}

function run(file) {
  const begun = Date.now()
  return new Promise((resolve) => {
    // A process group of its own: the nodes a file starts go with it, also when it is killed
    // or crashes before its teardown (a hung browser test once left 24 nodes running, which
    // then slowed every benchmark on the machine).
    const child = spawn(process.execPath, ['--require', EXIT_REASON, '--import', 'tsx', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0' },
      detached: true,
    })
    const killGroup = () => {
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {
        // the group is gone already
      }
    }
    groups.add(killGroup)
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    const timer = setTimeout(() => {
      output += `\n${file} timed out after ${FILE_TIMEOUT_MS / 1000} s\n`
      killGroup()
    }, FILE_TIMEOUT_MS)
    child.on('close', (code) => {
      clearTimeout(timer)
      killGroup()
      groups.delete(killGroup)
      resolve({ code, output, ms: Date.now() - begun })
    })
  })
}
