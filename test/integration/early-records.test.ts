/**
 * Records go to the peers as their write starts (cluster/record-broadcast.ts); a write that
 * never ends must not leave a record that only the peers' tables hold. Here node n1 tells its
 * peers of a request as if its write had started, and the write never ends: the peers show it
 * at once and, once n1 gives the write up, write it themselves, so that it reaches the log,
 * n1's own copy included. (A sender killed before it could give up is the unit test's.)
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createCluster, eventually } from '../helpers/cluster.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'
import { download } from '../helpers/records.ts'
import type { RecordOp } from '../../src/store/record.ts'

test('a request shown beside the log whose sender never wrote it is written by its peers', async () => {
  const logs = [recordingLogger(), recordingLogger(), recordingLogger()]
  const c = await createCluster(3, { workMs: 200 }, (i) => ({ log: logs[i] }))
  try {
    await c.oneLog()
    const [n1, n2, n3] = c.nodes
    const now = Date.now()
    const owner = n2!.cluster.members().find((m) => m.name === 'n2')!
    const op: RecordOp = {
      type: 'put',
      download: download({
        id: 'never-written',
        userId: 'ghost',
        owner: owner.id,
        ownerName: 'n2',
        createdAt: now,
        updatedAt: now,
        expiresAt: now + 600_000,
      }),
    }
    const landedOnN1 = new Promise<void>((resolve) =>
      n1!.recordLog.on('landed', (ops) => {
        // The request itself, not the owner's later writes of the same download.
        const request = (o: RecordOp) =>
          o.type === 'put' && o.download.id === 'never-written' && o.download.version === 1
        if (ops.some(request)) resolve()
      }),
    )
    n1!.recordLog.emit('writing', n1!.recordLog.key.toString('hex'), op)

    await eventually(
      () => [n2, n3].every((n) => n!.manager.current('ghost')?.id === 'never-written'),
      'the peers show it at once',
      2000,
    )
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      landedOnN1,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('the request never reached n1’s log')), 30_000)
      }),
    ]).finally(() => clearTimeout(timer))
    const carried = logs.slice(1).flatMap((l) => l.events('records-carried'))
    assert.ok(carried.length >= 1, 'a peer wrote it')
    assert.ok(
      carried.every((e) => e.fields.why === 'unwritten'),
      'as n1 gave the write up',
    )
  } finally {
    await c.teardown()
  }
})

test.run()
