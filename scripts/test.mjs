#!/usr/bin/env node
// Runs every test file in its own Node process (uvu + tsx), so integration tests that start
// nodes cannot leak into each other, and ends with one plain line: "N passed, N failed".
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const FILE_TIMEOUT_MS = 5 * 60 * 1000
const filter = process.argv[2]
const files = readdirSync('test')
  .filter((f) => f.endsWith('.test.ts') && (!filter || f.includes(filter)))
  .sort()

let passed = 0
let failed = 0
const failures = []

for (const file of files) {
  const started = Date.now()
  const { code, output } = await run(join('test', file))
  const total = Number(/Total:\s+(\d+)/.exec(output)?.[1] ?? NaN)
  const ok = Number(/Passed:\s+(\d+)/.exec(output)?.[1] ?? NaN)
  const skipped = Number(/Skipped:\s+(\d+)/.exec(output)?.[1] ?? 0)
  if (Number.isNaN(total) || Number.isNaN(ok)) {
    // The file crashed before uvu could report: count it as one failure.
    failed += 1
    failures.push(`${file} (crashed, exit ${code})`)
  } else {
    passed += ok
    const bad = total - ok - skipped
    failed += bad
    if (bad > 0 || code !== 0) failures.push(file)
    if (bad === 0 && code !== 0) failed += 1
  }
  console.log(`-- ${file}: ${((Date.now() - started) / 1000).toFixed(1)} s`)
}

if (failures.length) console.log(`\nfailed files: ${failures.join(', ')}`)
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed > 0 ? 1 : 0)

function run(file) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0' },
    })
    let output = ''
    const collect = (stream, sink) =>
      stream.on('data', (chunk) => {
        output += chunk
        sink.write(chunk)
      })
    collect(child.stdout, process.stdout)
    collect(child.stderr, process.stderr)
    const timer = setTimeout(() => {
      output += `\n${file} timed out after ${FILE_TIMEOUT_MS / 1000} s\n`
      child.kill('SIGKILL')
    }, FILE_TIMEOUT_MS)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })
}
