import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'

interface Report {
  main: number
  lowered: number[]
  threads: { id: number; nice: number; ranMs: number }[]
}

/**
 * A child process that lowers V8's helpers, then gives V8 background work (a heap that keeps
 * growing, for concurrent marking and parallel scavenges; hot functions, for concurrent
 * compiles) and no I/O, and reports each thread's nice and CPU time over that work.
 */
function child(nodeArgs: string[] = []): Promise<Report> {
  const script = `
    import { readdirSync, readFileSync } from 'node:fs'
    import { lowerV8Helpers } from ${JSON.stringify(new URL('../../src/thread-priority.ts', import.meta.url).href)}
    const lowered = lowerV8Helpers()
    const ran = (t) => Number(readFileSync('/proc/self/task/' + t + '/schedstat', 'utf8').split(' ')[0])
    const nice = (t) => { const s = readFileSync('/proc/self/task/' + t + '/stat', 'utf8'); return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[16]) }
    const ids = readdirSync('/proc/self/task').map(Number)
    const before = new Map(ids.map((t) => [t, ran(t)]))
    const kept = []
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i < 100000; i++) kept.push({ i, s: 'x' + i, a: [i, i + 1] })
      if (kept.length > 1000000) kept.splice(0, 500000)
      const f = new Function('a', 'b', 'let s = 0; for (let i = 0; i < a; i++) s += (i * ' + round + ') % b; return s')
      for (let i = 0; i < 2000; i++) f(100, 7)
    }
    const threads = ids.map((id) => ({ id, nice: nice(id), ranMs: (ran(id) - before.get(id)) / 1e6 }))
    console.log(JSON.stringify({ main: process.pid, lowered, threads }))`
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      [...nodeArgs, '--import', 'tsx', '--input-type=module', '-e', script],
      { timeout: 30_000 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout)),
    ),
  )
}

function check(r: Report, poolSize: number): void {
  assert.is(r.lowered.length, 1 + poolSize, JSON.stringify(r))
  const lowered = new Set(r.lowered)
  const others = r.threads.filter((t) => t.id !== r.main && !lowered.has(t.id))
  assert.ok(others.length > 0, 'the signal thread and libuv pool are left as they are')
  for (const t of r.threads) assert.is(t.nice, lowered.has(t.id) ? 10 : 0, JSON.stringify(t))
  // The lowered threads are the ones V8 ran its background work on.
  const sum = (ts: Report['threads']) => ts.reduce((s, t) => s + t.ranMs, 0)
  const onLowered = sum(r.threads.filter((t) => lowered.has(t.id)))
  assert.ok(onLowered >= 20, `V8's helpers ran ${onLowered} ms: ${JSON.stringify(r)}`)
  assert.ok(onLowered > 5 * sum(others), `the others ran as much: ${JSON.stringify(r)}`)
}

test("V8's helper threads run at nice 10, the main thread and the rest at 0", async () => {
  check(await child(), 4)
})

test('with --v8-pool-size, as many helpers as the pool has', async () => {
  check(await child(['--v8-pool-size=2']), 2)
})

test.run()
