import { test } from 'uvu'
import * as assert from 'uvu/assert'
import Corestore from 'corestore'
import { BlobFileStore } from '../../src/store/file-store.ts'
import { tempDir } from '../helpers/node.ts'
import { FILE_REF } from '../helpers/records.ts'

test('a file put is served back, and after remove this node no longer holds it', async () => {
  const dir = await tempDir()
  const store = new Corestore(dir.path)
  const files = new BlobFileStore(store, { fetchTimeoutMs: 200 })
  await files.ready()
  try {
    const bytes = Buffer.from('%PDF-1.4 ' + 'x'.repeat(100_000))
    const ref = await files.put(bytes)
    assert.is(ref.byteLength, bytes.length)
    const file = await files.open(ref)
    assert.ok(file)
    assert.is(file.size, bytes.length)
    const chunks: Buffer[] = []
    for await (const chunk of file.stream()) chunks.push(chunk as Buffer)
    assert.equal(Buffer.concat(chunks), bytes)

    await files.remove(ref)
    assert.is(await files.open(ref), null, 'cleared: not here, and no peer to fetch it from')
  } finally {
    await files.close()
    await store.close()
    await dir.remove()
  }
})

test('a file of an unknown core is reported unavailable after the timeout, not awaited forever', async () => {
  const dir = await tempDir()
  const store = new Corestore(dir.path)
  const files = new BlobFileStore(store, { fetchTimeoutMs: 200 })
  await files.ready()
  try {
    const started = Date.now()
    assert.is(await files.open(FILE_REF), null)
    assert.ok(Date.now() - started < 2000)
  } finally {
    await files.close()
    await store.close()
    await dir.remove()
  }
})

test.run()
