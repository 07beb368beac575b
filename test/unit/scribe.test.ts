import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { chooseScribe, DelegatedOps } from '../../src/cluster/scribe.ts'
import type { RecordOp } from '../../src/store/record.ts'
import { download } from '../helpers/records.ts'

const put = (over = {}): RecordOp => ({ type: 'put', download: download(over) })
/** Whether a promise has settled, and how, after the microtasks queued so far. */
async function state<T>(p: Promise<T>): Promise<T | 'pending'> {
  return Promise.race([p, new Promise<'pending'>((r) => setImmediate(() => r('pending')))])
}

test('the scribe is the writable member with the smallest id; none when that is this node', () => {
  assert.is(chooseScribe({ id: 'm', writable: true }, [{ id: 'c', writable: true }]), 'c')
  assert.is(chooseScribe({ id: 'b', writable: true }, [{ id: 'c', writable: true }]), null)
  assert.is(
    chooseScribe({ id: 'm', writable: true }, [
      { id: 'a', writable: false },
      { id: 'z', writable: true },
      { id: 'c', writable: true },
    ]),
    'c',
    'a member that is not a writer yet cannot write',
  )
  assert.is(
    chooseScribe({ id: 'a', writable: false }, [{ id: 'c', writable: true }]),
    'c',
    'a node that is not a writer itself names one that is',
  )
  assert.is(chooseScribe({ id: 'a', writable: false }, []), null, 'no one can: no scribe')
  assert.is(chooseScribe({ id: 'a', writable: true }, []), null, 'a node alone writes its own')
})

test('a member whose disk is low is passed over while a writable one has room', () => {
  const low = { writable: true, full: true }
  assert.is(
    chooseScribe({ id: 'm', writable: true }, [
      { id: 'a', ...low },
      { id: 'c', writable: true },
    ]),
    'c',
    'the smallest id with room',
  )
  assert.is(
    chooseScribe({ id: 'a', ...low }, [{ id: 'c', writable: true }]),
    'c',
    'a low node hands its own writes over',
  )
  assert.is(
    chooseScribe({ id: 'm', writable: true }, [{ id: 'a', ...low }]),
    null,
    'this node, with room, writes its own',
  )
  assert.is(
    chooseScribe({ id: 'm', ...low }, [
      { id: 'a', ...low },
      { id: 'b', writable: false },
    ]),
    'a',
    'every writer low: the smallest id, as before',
  )
})

test('an answer settles what was asked of that scribe, written or not', async () => {
  const d = new DelegatedOps()
  const [x, y, z] = [put(), put(), put()]
  const px = d.ask(4, x, 's', 0)
  const py = d.ask(5, y, 's', 0)
  const pz = d.ask(6, z, 't', 0)
  d.answered('s', 4, 3, true, 10)
  assert.is(await state(px), true)
  assert.is(await state(py), true)
  assert.is(await state(pz), 'pending', 'asked of another scribe: its answer only')
  d.answered('t', 6, 1, false, 10)
  assert.is(await state(pz), false)
})

test('a scribe that goes refuses what it was asked, and what it wrote the log never brought is written again', async () => {
  const d = new DelegatedOps()
  const [x, y, z] = [put(), put(), put()]
  d.ask(1, x, 's', 0)
  d.ask(2, y, 's', 0)
  const pz = d.ask(3, z, 's', 0)
  d.answered('s', 1, 2, true, 5)
  d.landed([x])
  assert.equal(d.gone('s'), [y], 'x came through the log; y did not')
  assert.is(await state(pz), false, 'z was not answered: its caller writes it')
  assert.is(d.size, 0)
  assert.equal(d.gone('s'), [])
})

test('no answer in time is a refusal; written but never brought by the log is written again', async () => {
  const d = new DelegatedOps()
  const [x, y] = [put(), put()]
  const px = d.ask(1, x, 's', 0)
  d.ask(2, y, 's', 0)
  d.answered('s', 2, 1, true, 100)
  assert.equal(d.expire(4999, 5000, 10_000), [])
  assert.is(await state(px), 'pending')
  assert.equal(d.expire(5000, 5000, 10_000), [])
  assert.is(await state(px), false)
  assert.equal(d.expire(10_099, 5000, 10_000), [])
  assert.equal(d.expire(10_100, 5000, 10_000), [y])
  assert.is(d.size, 0)
})

test('what the log brought before the scribe answered is not watched for (nor written again)', () => {
  const d = new DelegatedOps()
  const x = put()
  void d.ask(1, x, 's', 0)
  d.landed([x])
  d.answered('s', 1, 1, true, 10)
  assert.is(d.size, 0)
  assert.equal(d.expire(60_000, 5000, 10_000), [])
  assert.equal(d.gone('s'), [])
})

test('clearing refuses everything still asked', async () => {
  const d = new DelegatedOps()
  const p = d.ask(1, put(), 's', 0)
  d.clear()
  assert.is(await state(p), false)
  assert.is(d.size, 0)
})

test.run()
