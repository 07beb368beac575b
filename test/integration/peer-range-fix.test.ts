import { test } from 'uvu'
import * as assert from 'uvu/assert'
import Corestore from 'corestore'
import type { Duplex } from 'node:stream'
import { installPeerRangeFix } from '../../src/store/peer-range-fix.ts'
import { tempDir } from '../helpers/node.ts'

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('blocks after a range their writer cleared can still be fetched from it', async () => {
  installPeerRangeFix()
  const dirs = [await tempDir(), await tempDir()]
  const [storeA, storeB] = dirs.map((d) => new Corestore(d.path)) as [Corestore, Corestore]
  const s1 = storeA.replicate(true) as Duplex
  const s2 = storeB.replicate(false) as Duplex
  s1.pipe(s2).pipe(s1)
  try {
    const a = storeA.get({ name: 'files' })
    await a.ready()
    const b = storeB.get({ key: a.key })
    await b.ready()
    for (let i = 0; i < 9; i++) await a.append(Buffer.from(`block ${i}`))
    await pause(100)
    // B asks for a block before its writer has it (a record announcing a file can outrun
    // the core's own news): B's want for this batch of blocks is registered with A.
    const early = b.get(9)
    await pause(100)
    await a.append(Buffer.from('block 9'))
    assert.is(String(await early), 'block 9')
    assert.is(String(await b.get(0)), 'block 0')

    // A's first purge: the blocks before 2 go; 2 to 9 stay, and B must still see that.
    await a.clear(0, 2)
    await pause(200)
    const got = await b.get(8, { timeout: 2000 }).then(String, (err: Error) => err.message)
    assert.is(got, 'block 8', 'a block after the cleared range is fetched from its writer')
    const gone = await b.get(1, { timeout: 300 }).then(String, (err: Error) => err.message)
    assert.match(gone, /TIMEOUT/, 'a cleared block is not believed held')
  } finally {
    s1.destroy()
    s2.destroy()
    await storeA.close()
    await storeB.close()
    await Promise.all(dirs.map((d) => d.remove()))
  }
})

test.run()
