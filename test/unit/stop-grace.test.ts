import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { withStopGrace } from '../../src/downloads/stop-grace.ts'
import { fakeClock } from '../helpers/clock.ts'

function graced<T>(job: Promise<T>, controller: AbortController) {
  const clock = fakeClock()
  const told = { ignored: 0, late: [] as T[] }
  let outcome: string = 'pending'
  withStopGrace(job, {
    signal: controller.signal,
    clock,
    graceMs: 1000,
    onIgnored: () => told.ignored++,
    onLate: (v) => told.late.push(v),
  }).then(
    (v) => (outcome = `resolved ${String(v)}`),
    (e: Error) => (outcome = `rejected ${e.message}`),
  )
  return { clock, told, outcome: () => outcome }
}

const never = () => new Promise<string>(() => {})

test('a job that ends within the grace after its signal is aborted ends as it ends', async () => {
  const controller = new AbortController()
  let finish!: (v: string) => void
  const g = graced(new Promise<string>((r) => (finish = r)), controller)
  controller.abort(new Error('dismissed'))
  await g.clock.tick(999)
  finish('file')
  await g.clock.tick(1)
  assert.is(g.outcome(), 'resolved file')
  assert.equal(g.told, { ignored: 0, late: [] })
})

test('a job that goes on past the grace is let go with the signal’s reason, once; what it makes later is handed back', async () => {
  const controller = new AbortController()
  let finish!: (v: string) => void
  const g = graced(new Promise<string>((r) => (finish = r)), controller)
  await g.clock.tick(60_000)
  assert.is(g.outcome(), 'pending', 'no time limit while the signal is not aborted')
  controller.abort(new Error('dismissed'))
  await g.clock.tick(999)
  assert.is(g.outcome(), 'pending')
  await g.clock.tick(1)
  assert.is(g.outcome(), 'rejected dismissed')
  assert.is(g.told.ignored, 1)
  finish('late file')
  await g.clock.tick(0)
  assert.equal(g.told.late, ['late file'])
})

test('a signal aborted before the job is handed over starts the grace at once; a job failing late is ignored', async () => {
  const controller = new AbortController()
  controller.abort(new Error('shutting down'))
  let fail!: (e: Error) => void
  const g = graced(new Promise<string>((_, r) => (fail = r)), controller)
  await g.clock.tick(1000)
  assert.is(g.outcome(), 'rejected shutting down')
  fail(new Error('late failure'))
  await g.clock.tick(0)
  assert.equal(g.told, { ignored: 1, late: [] })
  const h = graced(never(), new AbortController())
  await h.clock.tick(10_000)
  assert.is(h.outcome(), 'pending')
})

test.run()
