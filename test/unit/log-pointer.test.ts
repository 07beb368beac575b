import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PointerFile, readPointer } from '../../src/store/log-pointer.ts'
import { LeftBases } from '../../src/store/left-bases.ts'
import { tempDir } from '../helpers/node.ts'

const key = (c: string) => c.repeat(64)
const at = (c: string, generation = 0) => ({ key: key(c), namespace: `ns-${c}`, generation })

test('pointer writes land in the order they were asked for, and one no longer wanted is not written', async () => {
  const dir = await tempDir()
  try {
    const file = new PointerFile(dir.path)
    assert.is(await file.read(), null, 'a fresh data directory has no pointer')
    // Started together: without the chain the two would share one temporary file.
    const writes = [file.save(at('a')), file.save(at('b', 1))]
    let on = 'c'
    const skipped = file.save(at('d', 2), () => on === 'd')
    on = 'e'
    await Promise.all([...writes, skipped])
    assert.equal(await readPointer(dir.path), at('b', 1))
    assert.equal(file.current, at('b', 1))
    await file.written()
    assert.equal(await new PointerFile(dir.path).read(), at('b', 1), 'a restart reads the last')
  } finally {
    await dir.remove()
  }
})

test('a pointer file that is not a pointer reads as none', async () => {
  const dir = await tempDir()
  try {
    await writeFile(join(dir.path, 'log.json'), '{"key":"zz","namespace":"x"}')
    assert.is(await new PointerFile(dir.path).read(), null)
    await writeFile(join(dir.path, 'log.json'), '{"key":')
    assert.is(await new PointerFile(dir.path).read(), null)
  } finally {
    await dir.remove()
  }
})

test("the bases left: the latest few, and this node's writers on those of one generation", () => {
  const left = new LeftBases(2)
  left.add({ key: 'a', generation: 1, writer: 'wa' })
  left.add({ key: 'b', generation: 2, writer: null })
  left.add({ key: 'c', generation: 2, writer: 'wc' })
  assert.ok(!left.has('a'), 'only the latest two are kept')
  assert.ok(left.has('b') && left.has('c'))
  assert.equal(left.writersOf(2), ['wc'])
  assert.equal(left.writersOf(1), [])
})

test.run()
