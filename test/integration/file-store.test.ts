import { test } from 'uvu'
import * as assert from 'uvu/assert'
import Corestore from 'corestore'
import { Readable } from 'node:stream'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { BlobFileStore, SourceStreamError } from '../../src/store/file-store.ts'
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

async function read(files: BlobFileStore, ref: Awaited<ReturnType<BlobFileStore['put']>>) {
  const file = await files.open(ref)
  assert.ok(file)
  const chunks: Buffer[] = []
  for await (const chunk of file.stream()) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

test('a slow stream holds up no other file, and one that fails or is aborted leaves nothing behind', async () => {
  const dir = await tempDir()
  const store = new Corestore(join(dir.path, 'store'))
  const spoolDir = join(dir.path, 'spool')
  const files = new BlobFileStore(store, { fetchTimeoutMs: 200, spoolDir })
  await files.ready()
  try {
    let go: () => void = () => {}
    const gate = new Promise<void>((resolve) => (go = resolve))
    async function* slow() {
      yield Buffer.alloc(100_000, 1)
      await gate
      yield 'tail'
    }
    const streaming = files.putStream(Readable.from(slow()))
    // Meanwhile another download finishes: its file is stored at once.
    const other = Buffer.alloc(300_000, 7)
    const otherRef = await files.put(other)
    async function* broken() {
      yield Buffer.alloc(200_000, 2)
      throw new Error('the source closed')
    }
    const failed = await files.putStream(Readable.from(broken())).catch((err) => err)
    assert.instance(failed, SourceStreamError)
    assert.is((failed as Error).message, 'the source closed')
    const aborted = new AbortController()
    const dismissed = files.putStream(Readable.from(slow()), aborted.signal).catch((err) => err)
    aborted.abort(new Error('dismissed'))
    assert.is(((await dismissed) as Error).message, 'dismissed')
    go()
    const ref = await streaming
    assert.equal(
      await read(files, ref),
      Buffer.concat([Buffer.alloc(100_000, 1), Buffer.from('tail')]),
    )
    assert.equal(await read(files, otherRef), other, 'the other file is whole')
    assert.equal(await readdir(spoolDir), [], 'no spool file left')
    const objects = await files.putStream(Readable.from([{ not: 'bytes' }])).catch((err) => err)
    assert.instance(objects, SourceStreamError)
    assert.match((objects as Error).message, /must yield Buffers/)
  } finally {
    await files.close()
    await store.close()
    await dir.remove()
  }
})

test.run()
