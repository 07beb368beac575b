import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { CheckpointCopies } from '../../src/downloads/checkpoint-copies.ts'
import { download } from '../helpers/records.ts'

const copy = (epoch: number, progress: number) => ({
  id: 'd1',
  userId: 'u1',
  epoch,
  progress,
  checkpoint: { at: progress },
})

test('the freshest copy is kept: a newer epoch, or further in the same one', () => {
  const copies = new CheckpointCopies()
  copies.offer(copy(1, 30))
  copies.offer(copy(1, 20))
  const d = download({ id: 'd1', userId: 'u1', epoch: 1, progress: 10 })
  assert.is(copies.aheadOf(d)?.progress, 30, 'an older report does not replace a fresher one')
  copies.offer(copy(2, 5))
  const taken = download({ id: 'd1', userId: 'u1', epoch: 2, progress: 0 })
  assert.is(copies.aheadOf(taken)?.progress, 5, 'a new owner’s first step replaces the old owner’s')
})

test('a copy is used only when it is ahead of the log, of the same download and not of a replaced owner', () => {
  const copies = new CheckpointCopies()
  copies.offer(copy(1, 50))
  assert.is(copies.aheadOf(download({ id: 'd1', userId: 'u1', epoch: 1, progress: 60 })), null)
  assert.is(copies.aheadOf(download({ id: 'd1', userId: 'u1', epoch: 2, progress: 10 })), null)
  assert.is(copies.aheadOf(download({ id: 'd1', userId: 'other', epoch: 1, progress: 10 })), null)
  assert.is(
    copies.aheadOf(download({ id: 'd1', userId: 'u1', epoch: 1, progress: 10 }))?.progress,
    50,
  )
  copies.forget('d1')
  assert.is(copies.size, 0)
})

test.run()
