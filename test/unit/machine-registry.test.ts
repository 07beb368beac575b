import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { MachineRegistry } from '../../src/cluster/machine-registry.ts'
import { tempDir } from '../helpers/node.ts'

/** Above the largest pid Linux hands out: never a running process. */
const DEAD_PID = 4_194_305

test('nodes of one machine see each other; a dead one is forgotten, a stopped one gone', async () => {
  const dir = await tempDir()
  try {
    const a = new MachineRegistry(dir.path, { host: '127.0.0.1', port: 18080 })
    const b = new MachineRegistry(dir.path, { host: '127.0.0.1', port: 19090 })
    await a.start()
    await b.start()
    await a.refresh()
    assert.equal(a.list(), [{ host: '127.0.0.1', port: 19090 }], 'a sees b, not itself')
    assert.equal(b.list(), [{ host: '127.0.0.1', port: 18080 }])

    // A node killed without its clean stop leaves its file: its pid is gone, so it is skipped.
    const stale = join(dir.path, '127.0.0.1-17070.json')
    await writeFile(stale, JSON.stringify({ host: '127.0.0.1', port: 17070, pid: DEAD_PID }))
    await writeFile(join(dir.path, 'garbage.json'), '{ not json')
    await a.refresh()
    assert.equal(a.list(), [{ host: '127.0.0.1', port: 19090 }])
    assert.not.ok((await readdir(dir.path)).includes('127.0.0.1-17070.json'), 'and removed')

    await b.stop()
    await a.refresh()
    assert.equal(a.list(), [], 'a clean stop takes its entry away')
  } finally {
    await dir.remove()
  }
})

test('a dead node’s file that cannot be removed is skipped, not a failure', async () => {
  const dir = await tempDir()
  const stale = join(dir.path, '127.0.0.1-17070.json')
  await writeFile(stale, JSON.stringify({ host: '127.0.0.1', port: 17070, pid: DEAD_PID }))
  // Immutable: not even root may remove it (a registry shared read-only, say).
  try {
    execFileSync('chattr', ['+i', stale], { stdio: 'pipe' })
  } catch (err) {
    await dir.remove()
    assert.unreachable(`this test needs root and chattr on the temp directory's disk: ${err}`)
  }
  try {
    const a = new MachineRegistry(dir.path, { host: '127.0.0.1', port: 18080 })
    await a.refresh()
    assert.equal(a.list(), [])
    assert.ok((await readdir(dir.path)).includes('127.0.0.1-17070.json'), 'still there')
  } finally {
    execFileSync('chattr', ['-i', stale])
    await dir.remove()
  }
})

test.run()
