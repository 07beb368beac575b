import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdir, rename, rm } from 'node:fs/promises'
import { watchDataDir } from '../../src/data-dir-watch.ts'
import { fakeClock } from '../helpers/clock.ts'
import { tempDir } from '../helpers/node.ts'

/** Ticks the clock a second at a time until `done`, letting the looks' stat calls finish. */
async function lookUntil(clock: ReturnType<typeof fakeClock>, done: () => boolean) {
  for (let i = 0; i < 50 && !done(); i++) {
    await clock.tick(1000)
    await new Promise((r) => setTimeout(r, 10))
  }
}

test('a data directory left in place says nothing; one replaced by another is told, once', async () => {
  const data = await tempDir('pdf-dir-watch-')
  const clock = fakeClock()
  const told: string[] = []
  const stop = watchDataDir(data.path, clock, (how) => told.push(how))
  try {
    await clock.tick(5000)
    await new Promise((r) => setTimeout(r, 20))
    assert.equal(told, [], 'still the same directory')
    // Moved away and another made in its place (a restore over it, a volume remounted).
    await rename(data.path, `${data.path}-old`)
    await mkdir(data.path)
    await lookUntil(clock, () => told.length > 0)
    assert.equal(told, ['replaced'])
    await clock.tick(5000)
    assert.equal(told, ['replaced'], 'told once')
  } finally {
    stop()
    await rm(`${data.path}-old`, { recursive: true, force: true })
    await data.remove()
  }
})

test('a deleted data directory is told as deleted', async () => {
  const data = await tempDir('pdf-dir-watch-')
  const clock = fakeClock()
  const told: string[] = []
  const stop = watchDataDir(data.path, clock, (how) => told.push(how))
  await rm(data.path, { recursive: true })
  await lookUntil(clock, () => told.length > 0)
  stop()
  assert.equal(told, ['deleted'])
})

test.run()
