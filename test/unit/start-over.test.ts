/**
 * A node's start over (src/start-over.ts), on a real directory: what its next start sets aside,
 * what it keeps, and markers that are odd.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startingOver, startOverIfAsked } from '../../src/start-over.ts'
import { tempDir } from '../helpers/node.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'
import { eventually } from '../../scripts/lib/eventually.ts'

function dataDir(path: string): void {
  mkdirSync(join(path, 'store'), { recursive: true })
  writeFileSync(join(path, 'store', 'CORESTORE'), 'x')
  for (const f of ['node-id', 'members.json', 'log.json']) writeFileSync(join(path, f), f)
  mkdirSync(join(path, 'files'))
}

test('asked while running, the next start sets the store aside and keeps the identity and files', async () => {
  const dir = await tempDir()
  try {
    dataDir(dir.path)
    const log = recordingLogger()
    assert.is(await startOverIfAsked(dir.path, log), null, 'not asked')
    const stopped: Error[] = []
    const startOver = startingOver({
      dir: dir.path,
      clock: { now: () => Date.UTC(2026, 11, 6) },
      log,
      stop: (err) => stopped.push(err),
    })
    startOver({ why: 'its store is behind' })
    startOver({ why: 'again' })
    await eventually(() => stopped.length === 1, 'stopped')
    assert.match(stopped[0]!.message, /its store is behind: it starts over/)
    const done = await startOverIfAsked(dir.path, log)
    assert.is(done!.setAside, join(dir.path, 'store.set-aside-2026-12-06T00-00-00-000Z'))
    assert.ok(existsSync(join(done!.setAside, 'CORESTORE')), 'moved, not deleted')
    assert.ok(!existsSync(join(dir.path, 'store')) && !existsSync(join(dir.path, 'log.json')))
    for (const kept of ['node-id', 'members.json', 'files'])
      assert.ok(existsSync(join(dir.path, kept)), kept)
    assert.equal(log.events('started-over')[0]!.fields.why, 'its store is behind')
    assert.is(await startOverIfAsked(dir.path, log), null, 'done once')
  } finally {
    await dir.remove()
  }
})

test('as a new member, its node-id and known members go aside too', async () => {
  const dir = await tempDir()
  try {
    dataDir(dir.path)
    writeFileSync(
      join(dir.path, 'start-over.json'),
      JSON.stringify({ why: 'twin', newIdentity: true, at: 0 }),
    )
    const done = await startOverIfAsked(dir.path, recordingLogger())
    assert.ok(done!.newIdentity)
    assert.is(readFileSync(join(done!.setAside, 'node-id'), 'utf8'), 'node-id')
    assert.ok(existsSync(join(done!.setAside, 'members.json')))
    assert.ok(!existsSync(join(dir.path, 'node-id')), 'a new one is made at start')
    assert.ok(existsSync(join(dir.path, 'files')))
  } finally {
    await dir.remove()
  }
})

test('a marker that says nothing, or a directory without a store, still starts over', async () => {
  const dir = await tempDir()
  try {
    writeFileSync(join(dir.path, 'start-over.json'), 'null')
    writeFileSync(join(dir.path, 'log.json'), '{}')
    const log = recordingLogger()
    const done = await startOverIfAsked(dir.path, log)
    assert.ok(done)
    assert.ok(!existsSync(join(dir.path, 'log.json')))
    const [line] = log.events('started-over')
    assert.is(line!.fields.setAside, undefined, 'nothing set aside, so no path to delete')
  } finally {
    await dir.remove()
  }
})

test('a marker that cannot be written leaves the node running, with what to do by hand', async () => {
  const dir = await tempDir()
  try {
    const log = recordingLogger()
    const stopped: Error[] = []
    startingOver({
      dir: join(dir.path, 'missing'),
      clock: { now: () => 0 },
      log,
      stop: (err) => stopped.push(err),
    })({ why: 'its store is behind' })
    await eventually(() => log.events('start-over-failed').length === 1, 'told')
    assert.match(
      String(log.events('start-over-failed')[0]!.fields.message),
      /move its store\/ aside/,
    )
    assert.equal(stopped, [], 'not stopped: started again, it would stop again, for ever')
  } finally {
    await dir.remove()
  }
})

test.run()
