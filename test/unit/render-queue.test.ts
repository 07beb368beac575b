import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RenderQueue } from '../../src/downloads/render-queue.ts'

test('renders run one per turn, with what arrived meanwhile between them', async () => {
  const q = new RenderQueue()
  const order: string[] = []
  const runs = [0, 1, 2].map((i) =>
    q.run(() => {
      order.push(`render ${i}`)
      // Stands for I/O that arrives while a render runs: it must not wait for the others.
      setImmediate(() => order.push(`io after ${i}`))
      return i
    }),
  )
  assert.is(q.length, 3)
  assert.equal(await Promise.all(runs), [0, 1, 2])
  await new Promise((r) => setImmediate(r))
  assert.equal(order, [
    'render 0',
    'io after 0',
    'render 1',
    'io after 1',
    'render 2',
    'io after 2',
  ])
  assert.is(q.length, 0)
})

test('a render waits for the previous one to finish, not just to start', async () => {
  const q = new RenderQueue()
  const order: string[] = []
  let finishFirst!: () => void
  const first = q.run(
    () =>
      new Promise<void>((resolve) => {
        order.push('first started')
        finishFirst = () => (order.push('first done'), resolve())
      }),
  )
  const second = q.run(() => void order.push('second started'))
  await new Promise((r) => setImmediate(r))
  await new Promise((r) => setImmediate(r))
  assert.equal(order, ['first started'])
  finishFirst()
  await Promise.all([first, second])
  assert.equal(order, ['first started', 'first done', 'second started'])
})

test('a failed render rejects its own caller only', async () => {
  const q = new RenderQueue()
  const failed = q.run(() => {
    throw new Error('bad font')
  })
  const next = q.run(() => 'ok')
  const err = await failed.then(
    () => null,
    (e: Error) => e,
  )
  assert.match(err?.message ?? '', /bad font/)
  assert.is(await next, 'ok')
})

test.run()
