import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { tempDir } from '../helpers/node.ts'
import {
  OpenFile,
  removeFile,
  removeQuietly,
  renameFile,
  sizeOf,
  SYNC_BYTES,
} from '../../src/store/file-io.ts'

test('a file written in chunks on both sides of the synchronous stretch reads back whole', async () => {
  const dir = await tempDir('file-io-')
  try {
    const bytes = randomBytes(SYNC_BYTES * 2 + 12_345)
    const part = join(dir.path, 'a.part')
    const file = OpenFile.create(part)
    // 100 KB chunks: one straddles SYNC_BYTES, the rest fall on either side of it.
    for (let at = 0; at < bytes.length; at += 100_000)
      await file.write(bytes.subarray(at, at + 100_000), at)
    await file.datasync()
    file.close()
    file.close() // a second close is harmless
    renameFile(part, join(dir.path, 'a'))
    assert.is(sizeOf(part), null)
    assert.is(sizeOf(join(dir.path, 'a')), bytes.length)
    assert.ok((await readFile(join(dir.path, 'a'))).equals(bytes))

    const reader = OpenFile.read(join(dir.path, 'a'))!
    assert.is(reader.size(), bytes.length)
    const back: Buffer[] = []
    for (let at = 0; ;) {
      const buf = Buffer.alloc(64 * 1024)
      const n = await reader.read(buf, at)
      if (n === 0) break
      back.push(buf.subarray(0, n))
      at += n
    }
    reader.close()
    assert.ok(Buffer.concat(back).equals(bytes))
  } finally {
    await dir.remove()
  }
})

test('a missing file reads as null; removing one is quiet about what is not there', async () => {
  const dir = await tempDir('file-io-')
  try {
    assert.is(OpenFile.read(join(dir.path, 'none')), null)
    await removeFile(join(dir.path, 'none'))
    removeQuietly(join(dir.path, 'none'))
    // A directory is not a file to read or to remove as one.
    assert.ok(
      await removeFile(dir.path).then(
        () => false,
        () => true,
      ),
      'a directory is refused',
    )
    removeQuietly(dir.path)
    assert.is(sizeOf(join(dir.path, 'none')), null)
  } finally {
    await dir.remove()
  }
})

test.run()
