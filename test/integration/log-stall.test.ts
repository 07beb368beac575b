/**
 * A log whose update stops for good (apply-watch.ts): autobase's pass waits on a block no peer
 * will send, as after a node was closed while its cluster was adding indexers. Here the apply
 * function waits for such a block the first time it meets one operation; the log must notice,
 * close the base (which cancels the wait) and open it again, losing nothing.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import Corestore from 'corestore'
import type Hypercore from 'hypercore'
import type { ApplyHost, ApplyNode } from 'autobase'
import { RecordLog } from '../../src/store/record-log.ts'
import { applyNodes } from '../../src/store/writer-admission.ts'
import { opsOf } from '../../src/store/op-pack.ts'
import { get } from '../../src/store/record-table.ts'
import { readPointer } from '../../src/store/log-pointer.ts'
import { systemClock, within } from '../../src/clock.ts'
import { eventually } from '../helpers/cluster.ts'
import { tempDir } from '../helpers/node.ts'
import { download } from '../helpers/records.ts'

const time = { now: () => 50_000 }

/**
 * The log's own apply, except that the first pass meeting download `id` waits for ever for a
 * block, inside the region autobase counts as flushing, as its view migration (`_premigrate`,
 * autobase 7.28) does when it asks for a block of a view its peers have left. There the wait
 * holds autobase's own close too: it flushes first.
 */
function stallingOn(id: string) {
  let stalled = 0
  const apply = async (nodes: ApplyNode[], view: Hypercore, host: ApplyHost) => {
    const meets = nodes.some((n) =>
      opsOf(n.value).some((op) => 'download' in op && op.download.id === id),
    )
    if (meets && stalled++ === 0) {
      const base = (host as unknown as { base: Migrating }).base
      base._flushing++
      try {
        await view.get(view.length + 100) // no one will send it
      } finally {
        if (--base._flushing === 0) base._flushSignal.notify()
      }
    }
    return applyNodes(nodes, view, host)
  }
  return { apply, stalls: () => stalled }
}

/** What of autobase a migration uses to keep its close waiting (autobase 7.28's `flush`). */
interface Migrating {
  _flushing: number
  _flushSignal: { notify(): void }
}

/** A record log over a store of its own whose update stalls at download 'stuck', found in `stallMs`. */
async function stallingLog(onError: (err: Error) => void, stallMs = 600) {
  const dir = await tempDir()
  const store = new Corestore(`${dir.path}/store`)
  const stalling = stallingOn('stuck')
  const log = new RecordLog({
    store,
    dataDir: dir.path,
    recordTime: time,
    stallMs,
    apply: stalling.apply,
    onError,
  })
  return { dir, store, stalling, log }
}

test('a log whose update stalls is closed and opened again: the write under way lands, and the next one too', async () => {
  const errors: Error[] = []
  const { dir, store, stalling, log } = await stallingLog((err) => errors.push(err))
  const events: string[] = []
  try {
    await log.ready()
    const key = log.key.toString('hex')
    log.on('stalled', (k, err) => {
      events.push(`stalled ${k === key} ${err.message}`)
      // A peer's write told while the base is reopened is kept for the base opened next.
      const peers = [{ type: 'put' as const, download: download({ id: 'told', userId: 'u3' }) }]
      assert.ok(log.mergeEarly(k, peers))
    })
    log.on('reopened', (k) => events.push(`reopened ${k === key}`))
    log.on('failed', (err) => events.push(`failed ${err.message}`))
    await log.append({ type: 'put', download: download({ id: 'before', userId: 'u0' }) })

    // Resolves only once written: on the reopened base, since the first one never finishes it.
    await within(
      systemClock,
      10_000,
      'the write under way',
      log.append({ type: 'put', download: download({ id: 'stuck', userId: 'u1' }) }),
    )
    assert.is(stalling.stalls(), 2, 'applied once more after the reopen')
    assert.is(events.length, 2, events.join('; '))
    assert.match(events[0]!, /^stalled true the log's update has made no headway for \d s$/)
    assert.is(events[1], 'reopened true')
    assert.is(log.key.toString('hex'), key, 'the same log')
    assert.ok(get(log.table, 'before', time.now()), 'what was read before is still there')
    assert.ok(get(log.table, 'stuck', time.now()))
    assert.ok(get(log.table, 'told', time.now()), 'what a peer told meanwhile')

    // The reopened base writes and reads as the first did, and the pointer still names it.
    await log.append({ type: 'put', download: download({ id: 'after', userId: 'u2' }) })
    assert.ok(get(log.table, 'after', time.now()))
    assert.is((await readPointer(dir.path))?.key, key)
    assert.ok(log.settled())
  } finally {
    await log.close()
    await store.close()
    await dir.remove()
  }
  assert.equal(errors, [])
})

test('a log reopened while a move carries records to it still gets them, and the pointer moves to it', async () => {
  const errors: Error[] = []
  const { dir, store, log } = await stallingLog((err) => errors.push(err))
  let reopened = false
  try {
    await log.ready()
    const from = log.key.toString('hex')
    await log.append({ type: 'put', download: download({ id: 'before', userId: 'u0' }) })
    log.on('reopened', () => (reopened = true))
    const settled = new Promise<string>((resolve) => log.on('settled', (p) => resolve(p.key)))
    const moving = log.compact()
    // Merged into the log left while the move opens the next one: carried after the switch,
    // and the pass that meets it on the new log stalls.
    setImmediate(() =>
      log.mergeEarly(from, [{ type: 'put', download: download({ id: 'stuck', userId: 'u1' }) }]),
    )
    await moving
    const to = log.key.toString('hex')
    assert.is.not(to, from, 'compacted to a new log')
    assert.is(await within(systemClock, 15_000, 'the pointer to move', settled), to)
    assert.ok(reopened, 'the new log was reopened on the way')
    assert.is((await readPointer(dir.path))?.key, to)
    assert.ok(log.settled())
  } finally {
    await log.close()
    await store.close()
  }
  // What was carried is in the log, not only in the table of the node that carried it.
  const again = new Corestore(`${dir.path}/store`)
  const read = new RecordLog({ store: again, dataDir: dir.path, recordTime: time })
  try {
    await read.ready()
    await eventually(() => get(read.table, 'stuck', time.now()) !== undefined, 'the carried record')
    assert.ok(get(read.table, 'before', time.now()))
  } finally {
    await read.close()
    await again.close()
    await dir.remove()
  }
  assert.equal(
    errors.filter((e) => !/update has made no headway/.test(e.message)).map((e) => e.message),
    [],
  )
})

test('a log that cannot be opened again fails: the write under way and the next are refused with why', async () => {
  const { dir, store, log } = await stallingLog(() => {})
  const namespace = store.namespace.bind(store)
  const failures: string[] = []
  try {
    await log.ready()
    // The reopen's open fails, as on a store that can no longer open a core.
    log.on('stalled', () => {
      store.namespace = () => {
        throw new Error('the disk is gone')
      }
    })
    log.on('failed', (err) => failures.push(err.message))
    const err = await within(
      systemClock,
      10_000,
      'the write under way to end',
      log.append({ type: 'put', download: download({ id: 'stuck', userId: 'u1' }) }).then(
        () => null,
        (e: Error) => e,
      ),
    )
    assert.match(err?.message ?? 'written', /could not open the log again: the disk is gone/)
    assert.equal(failures, ['could not open the log again: the disk is gone'])
    assert.match(log.failure()?.message ?? 'no failure', /could not open the log again/)
    const next = log.append({ type: 'put', download: download({ id: 'next', userId: 'u2' }) })
    const refused = await within(systemClock, 5000, 'the next write to end', next).then(
      () => null,
      (e: Error) => e,
    )
    assert.match(refused?.message ?? 'written', /could not open the log again/)
  } finally {
    store.namespace = namespace
    await within(systemClock, 10_000, 'closing', log.close())
    await store.close()
    await dir.remove()
  }
})

test('a log closed while its update waits for a block no one sends still closes, before the stall is found', async () => {
  // The stall is never found: the close alone must end the wait.
  const { dir, store, stalling, log } = await stallingLog(() => {}, 60_000)
  await log.ready()
  const written = log.append({ type: 'put', download: download({ id: 'stuck', userId: 'u1' }) })
  written.catch(() => {})
  await eventually(() => stalling.stalls() === 1, 'the pass waits')
  // Without cancelling what the pass waits for, autobase's close would wait for it too.
  await within(systemClock, 15_000, 'closing', log.close())
  await store.close()
  await dir.remove()
})

test.run()
