import { test } from 'uvu'
import * as assert from 'uvu/assert'
import Corestore from 'corestore'
import { Readable, type Duplex } from 'node:stream'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { BlobFileStore, SourceStreamError } from '../../src/store/file-store.ts'
import { tempDir } from '../helpers/node.ts'
import type { BlobRef } from '../../src/store/record.ts'
import { fakeClock } from '../helpers/clock.ts'

/** Where a 10-byte file would be, in a core no node holds. */
const BLOB_REF: BlobRef = {
  core: 'ab'.repeat(32),
  blockOffset: 0,
  blockLength: 1,
  byteOffset: 0,
  byteLength: 10,
}

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
  const told: Record<string, unknown>[] = []
  const files = new BlobFileStore(store, {
    fetchTimeoutMs: 200,
    onUnreachable: (fields) => told.push(fields),
  })
  await files.ready()
  try {
    const started = Date.now()
    assert.is(await files.open(BLOB_REF), null)
    assert.ok(Date.now() - started < 2000)
    assert.equal(
      told.map((f) => [f.block, f.length, f.peers]),
      [[BLOB_REF.blockOffset, 0, '']],
      'what replication looked like is told: no peer holds the core',
    )
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

/** Two corestores replicating in this process; returns how to cut them apart. */
function link(a: Corestore, b: Corestore): () => void {
  const s1 = a.replicate(true) as Duplex
  const s2 = b.replicate(false) as Duplex
  s1.pipe(s2).pipe(s1)
  return () => {
    s1.destroy()
    s2.destroy()
  }
}

async function holds(
  store: Corestore,
  ref: { core: string; blockOffset: number; blockLength: number },
) {
  const core = store.get({ key: Buffer.from(ref.core, 'hex') })
  try {
    await core.ready()
    return await core.has(ref.blockOffset, ref.blockOffset + ref.blockLength)
  } finally {
    await core.close()
  }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))
/** The copies asked for in a turn start at its end, once the peer's core is open here. */
const copiesStarted = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r))
}

test('files copied together are kept here once their maker is gone; a copy not made within a minute is dropped', async () => {
  const dirs = [await tempDir(), await tempDir()]
  const [storeA, storeB] = dirs.map((d) => new Corestore(d.path)) as [Corestore, Corestore]
  const clock = fakeClock()
  const a = new BlobFileStore(storeA, { fetchTimeoutMs: 200 })
  const b = new BlobFileStore(storeB, { fetchTimeoutMs: 200, clock })
  await a.ready()
  await b.ready()
  let cut = () => {}
  try {
    const bodies = [1, 2, 3].map((i) => Buffer.alloc(10_000 + i, i))
    const refs = []
    for (const body of bodies) refs.push(await a.put(body))
    // Readied in one turn: one range over the three (adjacent blocks), copied as one.
    cut = link(storeA, storeB)
    for (const ref of refs) b.prefetch(ref)
    const started = Date.now()
    while (!(await Promise.all(refs.map((r) => holds(storeB, r)))).every(Boolean)) {
      assert.ok(Date.now() - started < 5000, 'the three files reach B')
      await pause(20)
    }
    cut()

    // Cut off from their maker: one file asked for at once, one half a minute later.
    const late = [await a.put(Buffer.alloc(5000, 4)), await a.put(Buffer.alloc(5000, 5))]
    b.prefetch(late[0]!)
    await copiesStarted()
    await clock.tick(30_000)
    b.prefetch(late[1]!)
    await copiesStarted()
    await clock.tick(30_000) // the first has waited a minute: dropped
    cut = link(storeA, storeB)
    const reconnected = Date.now()
    while (!(await holds(storeB, late[1]!))) {
      assert.ok(Date.now() - reconnected < 5000, 'the copy still wanted is made on reconnection')
      await pause(20)
    }
    await pause(300)
    assert.is(await holds(storeB, late[0]!), false, 'the dropped copy is not made')
  } finally {
    cut()
    await a.close()
    await b.close()
    await storeA.close()
    await storeB.close()
    await Promise.all(dirs.map((d) => d.remove()))
  }
})

test.run()
