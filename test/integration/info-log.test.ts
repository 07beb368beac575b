/**
 * RocksDB's info log (store/info-log.ts): the old ones go, the live one past its limit is
 * truncated and keeps working, sparse, with its blocks given back.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Corestore from 'corestore'
import { trimInfoLog } from '../../src/store/info-log.ts'
import { dirBytes } from '../../src/disk-space.ts'
import { tempDir } from '../helpers/node.ts'

/** Appends and compactions, each of which writes a few lines to the info log. */
async function busy(store: Corestore, rounds: number): Promise<void> {
  const core = store.get({ name: 'busy' })
  await core.ready()
  for (let i = 0; i < rounds; i++) {
    await core.append(Buffer.alloc(1000, i))
    await store.storage.compact()
  }
}

/** A corestore in a fresh directory, and its RocksDB directory. */
async function setup() {
  const dir = await tempDir('pdf-cluster-info-log-')
  const store = new Corestore(dir.path)
  await store.ready()
  return {
    store,
    db: join(dir.path, 'db'),
    close: async () => {
      await store.close()
      await dir.remove()
    },
  }
}

test('old info logs are removed; the live one is left below the limit', async () => {
  const s = await setup()
  try {
    await writeFile(join(s.db, 'LOG.old.1796240773239099'), 'an earlier run')
    await writeFile(join(s.db, 'LOG.old.1796240773239100'), 'another')
    const before = (await stat(join(s.db, 'LOG'))).size
    const result = await trimInfoLog(s.db, 10 * 1024 * 1024)
    assert.equal(result, { removed: 2, truncated: false })
    const names = await readdir(s.db)
    assert.not.ok(
      names.some((n) => n.startsWith('LOG.old.')),
      names.join(' '),
    )
    assert.ok(names.includes('LOG'))
    assert.ok((await stat(join(s.db, 'LOG'))).size >= before)
  } finally {
    await s.close()
  }
})

test('a live info log past the limit is truncated; RocksDB writes on, and the disk counts only what it holds', async () => {
  const s = await setup()
  try {
    await busy(s.store, 20)
    const log = join(s.db, 'LOG')
    const grown = await stat(log)
    assert.ok(grown.size > 4096, `the log holds ${grown.size} bytes`)
    const result = await trimInfoLog(s.db, 4096)
    assert.equal(result, { removed: 0, truncated: true })
    await busy(s.store, 2)
    const after = await stat(log)
    // Written on at RocksDB's own offset: the length goes on, the blocks before it are gone.
    assert.ok(after.size > grown.size, `length ${after.size} after ${grown.size}`)
    assert.ok(
      after.blocks * 512 < grown.blocks * 512,
      `blocks ${after.blocks} after ${grown.blocks}`,
    )
    const counted = await dirBytes(s.db, true)
    let lengths = 0
    for (const name of await readdir(s.db)) lengths += (await stat(join(s.db, name))).size
    assert.ok(counted < lengths - grown.size / 2, `counted ${counted} of ${lengths}`)
    // The store still works.
    const core = s.store.get({ name: 'busy' })
    assert.is(((await core.get(1)) as Buffer | null)?.length, 1000)
  } finally {
    await s.close()
  }
})

test('a directory without an info log is left as it is', async () => {
  const dir = await tempDir('pdf-cluster-info-log-')
  try {
    assert.equal(await trimInfoLog(dir.path), { removed: 0, truncated: false })
    assert.equal(await trimInfoLog(join(dir.path, 'missing')), { removed: 0, truncated: false })
  } finally {
    await dir.remove()
  }
})

test.run()
