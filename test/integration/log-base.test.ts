import { test } from 'uvu'
import * as assert from 'uvu/assert'
import Corestore from 'corestore'
import { LogBase } from '../../src/store/log-base.ts'
import { systemClock } from '../../src/clock.ts'
import { tempDir } from '../helpers/node.ts'
import { download } from '../helpers/records.ts'

async function open() {
  const dir = await tempDir()
  const store = new Corestore(dir.path)
  const errors: Error[] = []
  const base = new LogBase({
    store,
    key: null,
    seed: [],
    generation: 0,
    ackIntervalMs: 1000,
    clock: systemClock,
    onError: (err) => errors.push(err),
    onFailed: (err) => errors.push(err),
  })
  await base.ready()
  return {
    base,
    errors,
    close: async () => {
      await base.close()
      await store.close()
      await dir.remove()
    },
  }
}

test('appends made in one turn of the event loop are written as one batch (group commit)', async () => {
  const s = await open()
  try {
    const records = Array.from({ length: 25 }, (_, i) => download({ id: `d${i}`, userId: `u${i}` }))
    await Promise.all(records.map((d) => s.base.append([{ type: 'put', download: d }], 1000)))
    // ...and as one block of the log: a pack (store/op-pack.ts).
    assert.equal(s.base.writeStats, { batches: 1, ops: 25, blocks: 1 })
    for (const d of records) assert.ok(s.base.table.entries.has(d.id), `${d.id} applied`)
    assert.is(s.base.ops, 25, 'the view counts the operations, not the blocks')

    // An append made after the batch was written goes in a batch of its own, in order.
    const last = download({ id: 'late', userId: 'u-late' })
    await s.base.append([{ type: 'put', download: last }], 1000)
    assert.equal(s.base.writeStats, { batches: 2, ops: 26, blocks: 2 })
    assert.ok(s.base.table.entries.has('late'))
    assert.is(s.base.ops, 26)
    assert.equal(s.errors, [])
  } finally {
    await s.close()
  }
})

test('a closed log refuses an append with a clear message', async () => {
  const s = await open()
  await s.close()
  try {
    await s.base.append([{ type: 'put', download: download() }], 1000)
    assert.unreachable('appended to a closed log')
  } catch (err) {
    assert.match((err as Error).message, /closed/)
  }
})

test.run()
