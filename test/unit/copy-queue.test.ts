import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { CopyQueue } from '../../src/store/copy-queue.ts'
import { fakeClock } from '../helpers/clock.ts'

const settle = () => new Promise((r) => setImmediate(r))

function queue(atOnce = 2) {
  const clock = fakeClock()
  const errors: string[] = []
  const q = new CopyQueue({
    clock,
    atOnce,
    retryMs: 1000,
    onError: (key, err) => errors.push(`${key}: ${err.message}`),
  })
  return { q, clock, errors }
}

test('a few run at once; the others start as they finish', async () => {
  const { q } = queue(2)
  const started: string[] = []
  const finish = new Map<string, () => void>()
  for (const key of ['a', 'b', 'c']) {
    q.add(key, () => {
      started.push(key)
      return new Promise<void>((resolve) => finish.set(key, resolve))
    })
  }
  q.add('a', async () => void started.push('a again')) // queued already: ignored
  assert.equal(started, ['a', 'b'])
  finish.get('a')!()
  await settle()
  assert.equal(started, ['a', 'b', 'c'])
  assert.not.ok(q.has('a'))
  assert.ok(q.has('b'))
})

test('one that says again is tried again after the retry time, until it stops saying so', async () => {
  const { q, clock } = queue()
  let tries = 0
  q.add('a', async () => (++tries < 3 ? 'again' : undefined))
  await settle()
  assert.is(tries, 1)
  await clock.tick(1000)
  assert.is(tries, 2)
  await clock.tick(1000)
  assert.is(tries, 3)
  await clock.tick(5000)
  assert.is(tries, 3)
  assert.not.ok(q.has('a'))
})

test('a cancelled copy is not tried again, nor one waiting its turn; a throw is reported once', async () => {
  const { q, clock, errors } = queue(1)
  let tries = 0
  q.add('a', async () => {
    tries++
    return 'again'
  })
  let waited = false
  let release!: () => void
  q.add('blocker', () => new Promise<void>((r) => (release = r)))
  q.add('waiting', async () => void (waited = true))
  await settle()
  q.cancel('a')
  q.cancel('waiting')
  await clock.tick(5000)
  release()
  await settle()
  assert.is(tries, 1)
  assert.not.ok(waited)
  q.add('broken', async () => {
    throw new Error('disk full')
  })
  await settle()
  assert.equal(errors, ['broken: disk full'])
  assert.not.ok(q.has('broken'))
})

test.run()
