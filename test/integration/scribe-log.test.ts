/**
 * A record log that hands its writes to the cluster's scribe (cluster/scribe.ts), over a real
 * corestore on disk: what is written here and what is not, and a scribe's refusal racing a
 * compaction.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import Corestore from 'corestore'
import { RecordLog } from '../../src/store/record-log.ts'
import type { RecordOp } from '../../src/store/record.ts'
import { get } from '../../src/store/record-table.ts'
import { tempDir } from '../helpers/node.ts'
import { download } from '../helpers/records.ts'
import { eventually } from '../../scripts/lib/eventually.ts'

const time = { now: () => 50_000 }
const put = (id: string): RecordOp => ({ type: 'put', download: download({ id, userId: id }) })

async function openLog(onError?: (err: Error) => void) {
  const dir = await tempDir()
  const store = new Corestore(`${dir.path}/store`)
  const log = new RecordLog({ store, dataDir: dir.path, recordTime: time, onError })
  await log.ready()
  const written: string[] = []
  log.on('written', (_key, op) => written.push(op.type === 'put' ? op.download.id : op.id))
  return {
    log,
    written,
    close: async () => {
      await log.close()
      await store.close()
      await dir.remove()
    },
  }
}

/** Resolves to `value` on the next turn of the event loop. */
const nextTurn = <T>(value: T) => new Promise<T>((r) => setImmediate(() => r(value)))

/** A scribe that answers each request when told to. */
function scribe() {
  const asked: { key: string; op: RecordOp; answer: (written: boolean) => void }[] = []
  const fn = (key: string, op: RecordOp) =>
    new Promise<boolean>((answer) => asked.push({ key, op, answer }))
  return { fn, asked }
}

test('an operation a scribe wrote is not written here; one it refused is', async () => {
  const a = await openLog()
  try {
    const s = scribe()
    a.log.handTo(s.fn)
    const taken = a.log.append(put('taken'))
    const refused = a.log.append(put('refused'))
    await new Promise((r) => setImmediate(r))
    assert.equal(
      s.asked.map((x) => x.key),
      [a.log.key.toString('hex'), a.log.key.toString('hex')],
    )
    assert.ok(get(a.log.table, 'taken', time.now()), 'shown here while the scribe writes it')
    s.asked[0]!.answer(true)
    s.asked[1]!.answer(false)
    await Promise.all([taken, refused])
    assert.equal(a.written.sort(), ['refused', 'taken'])
    assert.is(a.log.ops(), 1, 'only the refused one was written here')
    assert.is(s.asked.length, 2, 'a refusal is not asked again')
  } finally {
    await a.close()
  }
})

test('a node writes for a peer only to the log it is on', async () => {
  const a = await openLog()
  try {
    const key = a.log.key.toString('hex')
    assert.is(await a.log.writeFor('f'.repeat(64), [put('elsewhere')]), false)
    assert.is(await a.log.writeFor(key, [put('p1'), put('p2')]), true)
    // Answered once written; this node reads it back after.
    await eventually(() => a.log.ops() === 2, 'the log holds both')
  } finally {
    await a.close()
  }
})

test('a scribe’s refusal after this node moved to a new log: written to the new one', async () => {
  const a = await openLog()
  try {
    const s = scribe()
    a.log.handTo(s.fn)
    const before = a.log.key.toString('hex')
    const append = a.log.append(put('moved'))
    await new Promise((r) => setImmediate(r))
    await a.log.compact()
    assert.is.not(a.log.key.toString('hex'), before)
    s.asked[0]!.answer(false)
    await append
    assert.ok(get(a.log.table, 'moved', time.now()))
    // Once as the compaction carried it (it was shown here), once as this node wrote it.
    assert.is(a.log.ops(), 2, 'written to the new log')
  } finally {
    await a.close()
  }
})

test('until merged: resolves while the scribe still writes; a failed write is reported, not thrown', async () => {
  const errors: string[] = []
  const a = await openLog((err) => errors.push(err.message))
  try {
    const s = scribe()
    a.log.handTo(s.fn)
    const merged = a.log.append(put('merged'), { until: 'merged' }).then(() => 'merged')
    assert.is(await Promise.race([merged, nextTurn('waiting')]), 'merged')
    assert.ok(get(a.log.table, 'merged', time.now()), 'merged when it resolves')
    assert.is(a.written.length, 0, 'not written yet: the scribe has not answered')
    // Written (not merged only): the same append waits for the scribe.
    const written = a.log.append(put('written')).then(() => 'written')
    assert.is(await Promise.race([written, nextTurn('waiting')]), 'waiting')
    s.asked[0]!.answer(true)
    s.asked[1]!.answer(true)
    assert.is(await written, 'written')
    await eventually(() => a.written.includes('merged'), 'the merged one is written after')
    assert.equal(errors, [])
  } finally {
    await a.close()
  }
})

test('until merged: a write that fails after the merge is logged, and its peers hear it failed', async () => {
  const errors: string[] = []
  const a = await openLog((err) => errors.push(err.message))
  const unwritten: RecordOp[] = []
  a.log.on('unwritten', (op) => unwritten.push(op))
  try {
    a.log.handTo(() => Promise.resolve(false))
    // This node's own write of it then fails: the base is made to refuse it.
    const base = a.log['base'] as { append: (...args: unknown[]) => Promise<void> }
    base.append = () => Promise.reject(new Error('disk on fire'))
    await a.log.append(put('doomed'), { until: 'merged' })
    assert.ok(get(a.log.table, 'doomed', time.now()), 'it stays merged')
    await eventually(() => errors.length === 1, 'the failure is reported')
    assert.match(errors[0]!, /not written here: disk on fire/)
    assert.is(unwritten.length, 1, 'peers are told it was not written, so they write it')
  } finally {
    await a.close()
  }
})

test('closing writes what is gathering for the group commit: a merged dismissal is not dropped', async () => {
  const dir = await tempDir()
  const open = async () => {
    const store = new Corestore(`${dir.path}/store`)
    const log = new RecordLog({ store, dataDir: dir.path, recordTime: time, batchMs: 1000 })
    await log.ready()
    return { store, log }
  }
  try {
    const a = await open()
    await a.log.append(put('kept'), { until: 'merged' })
    // Closed well inside the batch's window: before, the batch was cancelled, not written.
    await a.log.close()
    await a.store.close()
    const b = await open()
    assert.ok(get(b.log.table, 'kept', time.now()), 'written before the log closed')
    await b.log.close()
    await b.store.close()
  } finally {
    await dir.remove()
  }
})

test.run()
