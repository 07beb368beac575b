import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Supervisor, type SupervisorOptions } from '../../src/downloads/supervisor.ts'
import { CheckpointCopies } from '../../src/downloads/checkpoint-copies.ts'
import type { NodeRef } from '../../src/cluster/placement.ts'
import type { Download } from '../../src/store/record.ts'
import { fakeClock } from '../helpers/clock.ts'
import { MemoryFileStore, memoryRepository, steppedGenerator } from '../helpers/fakes.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'
import { download } from '../helpers/records.ts'

const ME: NodeRef = { id: 'me', name: 'n1' }
const LIVE_TTL_MS = 30_000

const settle = () => new Promise((resolve) => setImmediate(resolve))

function setup(over: Partial<SupervisorOptions> = {}) {
  const clock = fakeClock()
  const copies = new CheckpointCopies()
  const { log, repo } = memoryRepository(clock)
  const generator = steppedGenerator()
  const logger = recordingLogger()
  /** Owners that placement reports gone, and who succeeds them. */
  const gone = new Map<string, NodeRef>()
  /** False while the node waits for its cluster after a restart. */
  const rejoin = { ready: true }
  const supervisor = new Supervisor({
    self: ME,
    placement: {
      successorFor: (_user, owner) => gone.get(owner) ?? null,
      mayWork: () => rejoin.ready,
    },
    copies,
    generator,
    repo,
    files: new MemoryFileStore(),
    clock,
    liveTtlMs: LIVE_TTL_MS,
    retentionMs: 60_000,
    checkpointStep: 10,
    logCheckpointMs: 10_000,
    onProgress: () => {},
    log: logger,
    ...over,
  })
  const live = (over: Partial<Download>) =>
    download({
      createdAt: clock.now(),
      updatedAt: clock.now(),
      expiresAt: clock.now() + LIVE_TTL_MS,
      ...over,
    })
  return { clock, log, repo, generator, logger, gone, rejoin, supervisor, live, copies }
}

/** A download of u1 owned by n2 ('dead-node'), its checkpoint in the log at `progress`. */
async function orphan(s: ReturnType<typeof setup>, progress: number): Promise<Download> {
  const d = s.live({
    userId: 'u1',
    owner: 'dead-node',
    ownerName: 'n2',
    state: 'processing',
    progress,
    checkpoint: { at: progress },
  })
  await s.repo.insert(d)
  return d
}

test('a worker runs for every live download this node owns, and for no other', async () => {
  const s = setup()
  await s.repo.insert(s.live({ userId: 'u1', owner: 'me' }))
  await s.repo.insert(s.live({ userId: 'u2', owner: 'other' }))
  await s.repo.insert(s.live({ userId: 'u3', owner: 'me', state: 'ready' }))
  s.supervisor.reconcileAll()
  await settle()
  assert.is(s.supervisor.running, 1)
  assert.equal(
    s.generator.runs.map((r) => r.job.userId),
    ['u1'],
  )
  s.supervisor.reconcileAll()
  assert.is(s.generator.runs.length, 1, 'reconciling again starts no second worker')
  await s.supervisor.close()
})

test('a job reporting fractions (0.5 for half) is told once by the node, in a WARN line, whichever downloads do it; the download goes on', async () => {
  const s = setup()
  const first = s.live({ userId: 'u1', owner: 'me' })
  await s.repo.insert(first)
  await s.repo.insert(s.live({ userId: 'u2', owner: 'me' }))
  s.supervisor.reconcileAll()
  const [a, b] = [await s.generator.next(), await s.generator.next()]
  for (const p of [0, 1, 50]) b.report(p)
  assert.equal(s.logger.events('progress-fraction'), [], 'a percent, 0 and 1 included, is no hint')
  for (const p of [0.25, 0.5]) a.report(p)
  b.report(0.75)
  assert.equal(
    s.logger
      .events('progress-fraction')
      .map((e) => [e.level, e.fields.job, e.fields.id, e.fields.reported]),
    [['warn', 'stepped', first.id, 0.25]],
  )
  assert.match(String(s.logger.events('progress-fraction')[0]!.fields.hint), /report\(50\) is half/)
  a.finish()
  await settle()
  await settle()
  assert.is(s.repo.get(first.id)!.state, 'ready', 'not refused: 0.5 % is a valid report')
  await s.supervisor.close()
})

test('the successor of a gone owner takes over at the next epoch and resumes from the checkpoint', async () => {
  const s = setup()
  const d = await orphan(s, 40)
  s.supervisor.reconcile(['u1'])
  await settle()
  assert.is(s.repo.get(d.id)!.epoch, 1, 'the owner is not gone yet: nothing happens')

  s.gone.set('dead-node', ME)
  s.supervisor.reconcile(['u1'])
  await settle()
  const taken = s.repo.get(d.id)!
  assert.equal([taken.owner, taken.ownerName, taken.epoch], ['me', 'n1', 2])
  assert.equal(
    s.logger.events('takeover').map((e) => [e.fields.from, e.fields.epoch, e.fields.at]),
    [['n2', 2, '40%']],
  )
  s.supervisor.reconcile(['u1']) // the change event that follows a takeover
  const run = await s.generator.next()
  assert.is(run.job.progress, 40)
  assert.equal(run.job.checkpoint, { at: 40 })
  await s.supervisor.close()
})

test('a takeover of a download whose start never reached the log says it runs', async () => {
  const s = setup()
  const d = s.live({ userId: 'u1', owner: 'dead-node', ownerName: 'n2', state: 'pending' })
  await s.repo.insert(d)
  s.gone.set('dead-node', ME)
  s.supervisor.reconcile(['u1'])
  await settle()
  const taken = s.repo.get(d.id)!
  assert.equal([taken.state, taken.owner, taken.epoch], ['processing', 'me', 2])
  await s.supervisor.close()
})

test('a takeover resumes from the checkpoint the owner sent here when it is ahead of the log', async () => {
  const s = setup()
  const d = await orphan(s, 20)
  // A copy from the owner's worker (epoch 1), one from a worker replaced long ago is no use.
  s.copies.offer({ id: d.id, userId: 'u1', epoch: 1, progress: 70, checkpoint: { at: 70 } })
  s.gone.set('dead-node', ME)
  s.supervisor.reconcile(['u1'])
  await settle()
  const taken = s.repo.get(d.id)!
  assert.equal([taken.epoch, taken.progress, taken.checkpoint], [2, 70, { at: 70 }])
  assert.equal(
    s.logger.events('takeover').map((e) => [e.fields.at, e.fields.checkpoint]),
    [['70%', 'relayed']],
  )
  s.supervisor.reconcile(['u1'])
  const run = await s.generator.next()
  assert.equal([run.job.progress, run.job.checkpoint], [70, { at: 70 }])
  await s.supervisor.close()
})

test('a node that is not the successor leaves a gone owner’s download alone', async () => {
  const s = setup()
  const d = s.live({ userId: 'u1', owner: 'dead-node' })
  await s.repo.insert(d)
  s.gone.set('dead-node', { id: 'third', name: 'n3' })
  s.supervisor.reconcile(['u1'])
  await settle()
  assert.is(s.repo.get(d.id)!.epoch, 1)
  assert.is(s.supervisor.running, 0)
})

test('a fenced node stops its workers at once and starts none until the quiet time has passed', async () => {
  const s = setup()
  await s.repo.insert(s.live({ userId: 'u1', owner: 'me' }))
  s.supervisor.reconcileAll()
  const first = await s.generator.next()
  s.supervisor.fence(1600)
  await settle()
  assert.ok(first.ctx.signal.aborted)
  assert.is(s.supervisor.running, 0)
  s.supervisor.reconcileAll()
  await settle()
  assert.is(s.generator.runs.length, 1, 'nothing starts while quiet')
  await s.clock.tick(1600)
  s.supervisor.reconcileAll()
  await s.generator.next()
  assert.is(s.generator.runs.length, 2, 'it starts again after the quiet time')
  await s.supervisor.close()
})

test('a node waiting for its cluster after a restart runs nothing, then resumes its own downloads', async () => {
  const s = setup()
  s.rejoin.ready = false
  const mine = s.live({ userId: 'u1', owner: 'me', state: 'processing', progress: 30 })
  const theirs = s.live({ userId: 'u2', owner: 'gone-node' })
  await s.repo.insert(mine)
  await s.repo.insert(theirs)
  s.gone.set('gone-node', ME)
  s.supervisor.reconcileAll()
  await settle()
  assert.is(s.supervisor.running, 0, 'its own download waits')
  assert.is(s.repo.get(theirs.id)!.epoch, 1, 'and nothing is taken over')
  s.rejoin.ready = true
  s.supervisor.reconcileAll()
  const run = await s.generator.next()
  assert.is(run.job.progress, 30, 'resumed from its checkpoint')
  await settle()
  assert.is(s.repo.get(theirs.id)!.owner, 'me', 'the gone owner’s download is taken over')
  await s.supervisor.close()
})

test('a node cut off from its quorum publishes and writes nothing from its next step, stops its workers once the loss is told, takes nothing over, and resumes once back', async () => {
  const s = setup()
  const mine = s.live({ userId: 'u1', owner: 'me' })
  const theirs = s.live({ userId: 'u2', owner: 'gone-node' })
  await s.repo.insert(mine)
  s.supervisor.reconcileAll()
  const run = await s.generator.next()
  run.report(12)
  await settle()
  const writesBefore = s.log.ops.length

  // Cut off: the lease is gone before any event says so. The next report is not acted on.
  s.rejoin.ready = false
  run.report(15)
  run.report(20)
  await settle()
  assert.is(s.log.ops.length, writesBefore, 'nothing more is written')
  // The quorum watch tells the loss once confirmed (quorum-watch.ts): the workers stop.
  s.supervisor.cutOff()
  await settle()
  assert.ok(run.ctx.signal.aborted, 'the generator is aborted')
  assert.ok(s.logger.events('stopped').some((e) => e.fields.reason === 'cut-off'))
  await s.repo.insert(theirs)
  s.gone.set('gone-node', ME)
  s.supervisor.reconcileAll()
  await settle()
  assert.is(s.supervisor.running, 0)
  assert.is(s.repo.get(theirs.id)!.epoch, 1, 'nothing is taken over while cut off')

  s.rejoin.ready = true
  s.supervisor.backFromCut(0)
  const again = await s.generator.next()
  assert.is(again.job.progress, 12, 'resumed from its last checkpoint')
  await settle()
  assert.is(s.repo.get(theirs.id)!.owner, 'me')
  await s.supervisor.close()
})

for (const confirmed of [false, true])
  test(`a worker whose last write meets a quorum loss waits for its verdict: ${confirmed ? 'confirmed, it stops without writing' : 'a false alarm, it writes the outcome'}`, async () => {
    const verdict: { resolve?: (may: boolean) => void } = {}
    const rejoin = { ready: true }
    const s = setup({
      placement: {
        successorFor: () => null,
        mayWork: () => rejoin.ready,
        mayWorkSettled: () => new Promise<boolean>((resolve) => (verdict.resolve = resolve)),
      },
    })
    const mine = s.live({ userId: 'u1', owner: 'me' })
    await s.repo.insert(mine)
    s.supervisor.reconcileAll()
    const run = await s.generator.next()
    // This node's loop stood still: its lease looks gone when the job's result comes in.
    rejoin.ready = false
    run.finish()
    await settle()
    assert.ok(verdict.resolve, 'the write asks for the verdict')
    assert.is(s.repo.get(mine.id)!.state, 'pending', 'and waits for it')
    rejoin.ready = !confirmed
    verdict.resolve!(!confirmed)
    await settle()
    await settle()
    const d = s.repo.get(mine.id)!
    if (confirmed) {
      assert.is(d.state, 'pending', 'nothing is written')
      assert.ok(s.logger.events('stopped').some((e) => e.fields.reason === 'cut-off'))
    } else assert.is(d.state, 'ready', 'the outcome is written')
    await s.supervisor.close()
  })

test('back from a cut, a download still its own resumes from its worker’s newest checkpoint, not the log’s older one', async () => {
  // Both successors took every copy: the log gets no checkpoint within --log-checkpoint-ms.
  const s = setup({ onCheckpoint: () => 2 })
  const mine = s.live({ userId: 'u1', owner: 'me' })
  await s.repo.insert(mine)
  s.supervisor.reconcileAll()
  const run = await s.generator.next()
  run.report(20)
  run.report(40)
  await settle()
  assert.is(s.repo.get(mine.id)!.progress, 0, 'the log holds no checkpoint')
  // The successors that held the copies are the nodes that went away.
  s.supervisor.cutOff()
  await settle()
  s.supervisor.backFromCut(0)
  const again = await s.generator.next()
  assert.is(again.job.id, mine.id)
  assert.is(again.job.progress, 40, 'resumed from 40 %, not from 0')
  assert.equal(again.job.checkpoint, { at: 40 })
  assert.ok(s.logger.events('resume').some((e) => e.fields.from === '40%'))
  await s.supervisor.close()
})

test('a paused node’s workers resume from their newest checkpoint too; a download taken over meanwhile does not', async () => {
  const s = setup({ onCheckpoint: () => 2 })
  const kept = s.live({ userId: 'u1', owner: 'me' })
  const moved = s.live({ userId: 'u2', owner: 'me' })
  await s.repo.insert(kept)
  await s.repo.insert(moved)
  s.supervisor.reconcileAll()
  for (const run of [await s.generator.next(), await s.generator.next()]) run.report(30)
  await settle()
  s.supervisor.pause()
  await settle()
  // Taken over elsewhere at its own (older) checkpoint: the copy of the old epoch is not used.
  await s.repo.update({ ...s.repo.get(moved.id)!, owner: 'other', epoch: 2, version: 5 })
  await s.repo.update({ ...s.repo.get(moved.id)!, owner: 'me', epoch: 3, version: 6 })
  s.supervisor.resume()
  const runs = [await s.generator.next(), await s.generator.next()]
  const of = (id: string) => runs.find((r) => r.job.id === id)!.job.progress
  assert.is(of(kept.id), 30)
  assert.is(of(moved.id), 0, 'an epoch this worker did not run starts from its record')
  await s.supervisor.close()
})

test('a relayed copy of a newer epoch than the record here (a takeover not heard of yet) is not where its own worker starts', async () => {
  const s = setup({ onCheckpoint: () => 2 })
  const mine = s.live({ userId: 'u1', owner: 'me', epoch: 1 })
  // Another node took it over (epoch 2) and sent its checkpoint here before its record came.
  s.copies.offer({ id: mine.id, userId: 'u1', epoch: 2, progress: 70, checkpoint: { at: 70 } })
  await s.repo.insert(mine)
  s.supervisor.reconcileAll()
  const run = await s.generator.next()
  assert.is(run.job.progress, 0, 'from its record: the copy is another owner’s work')
  await s.supervisor.close()
})

test('cutOff stops every worker at once, without a last write', async () => {
  const s = setup()
  await s.repo.insert(s.live({ userId: 'u1', owner: 'me' }))
  s.supervisor.reconcileAll()
  const run = await s.generator.next()
  await settle()
  const writesBefore = s.log.ops.length
  s.supervisor.cutOff()
  await settle()
  assert.ok(run.ctx.signal.aborted)
  assert.is(s.supervisor.running, 0)
  assert.is(s.log.ops.length, writesBefore)
  await s.supervisor.close()
})

test('back from a cut, what it owned waits out the grace and resumes only if still its own', async () => {
  const s = setup()
  const kept = s.live({ userId: 'u1', owner: 'me', state: 'processing', progress: 20 })
  const moved = s.live({ userId: 'u2', owner: 'me', state: 'processing', progress: 20 })
  await s.repo.insert(kept)
  await s.repo.insert(moved)
  s.supervisor.reconcileAll()
  await s.generator.next()
  await s.generator.next()
  s.supervisor.cutOff()
  await settle()
  assert.is(s.supervisor.running, 0)

  s.supervisor.backFromCut(2000)
  await settle()
  assert.is(s.supervisor.running, 0, 'nothing it owned resumes at once')
  // The majority's takeover of u2 replicates here during the grace.
  await s.repo.update({ ...s.repo.get(moved.id)!, owner: 'other', epoch: 2, version: 9 })
  await s.clock.tick(2000)
  s.supervisor.reconcileAll()
  const run = await s.generator.next()
  assert.is(run.job.id, kept.id, 'the download still its own resumes after the grace')
  await settle()
  assert.is(s.supervisor.running, 1, 'the one taken over does not')
  await s.supervisor.close()
})

test('back from a cut, a download taken over meanwhile is not held: should it come back to this node (its new owner died), it runs at once', async () => {
  const s = setup()
  const d = s.live({ userId: 'u1', owner: 'me', state: 'processing', progress: 20 })
  await s.repo.insert(d)
  s.supervisor.reconcileAll()
  await s.generator.next()
  s.supervisor.cutOff()
  // The majority took it over while this node was cut off; that reached here before the heal.
  await s.repo.update({
    ...s.repo.get(d.id)!,
    owner: 'other',
    ownerName: 'n2',
    epoch: 2,
    version: 9,
  })
  s.supervisor.backFromCut(60_000)
  await settle()
  // Its new owner dies at once, and this node is its successor.
  s.gone.set('other', ME)
  s.supervisor.reconcile(['u1'])
  await settle()
  assert.equal([s.repo.get(d.id)!.owner, s.repo.get(d.id)!.epoch], ['me', 3])
  s.supervisor.reconcile(['u1']) // the change event that follows a takeover
  const run = await s.generator.next()
  assert.is(run.job.id, d.id, 'not held for the grace: the cut is long settled for it')
  await s.supervisor.close()
})

test('a dismissed download’s worker stops', async () => {
  const s = setup()
  const d = s.live({ userId: 'u1', owner: 'me' })
  await s.repo.insert(d)
  s.supervisor.reconcileAll()
  const run = await s.generator.next()
  await s.repo.remove(d)
  s.supervisor.reconcile(['u1'])
  await settle()
  assert.ok(run.ctx.signal.aborted)
  assert.is(s.supervisor.running, 0)
})

test('a dismissal stops that user’s worker only, and a stopped worker is not looked at again', async () => {
  const s = setup()
  const d1 = s.live({ userId: 'u1', owner: 'me' })
  await s.repo.insert(d1)
  await s.repo.insert(s.live({ userId: 'u2', owner: 'me' }))
  s.supervisor.reconcileAll()
  const [run1, run2] = [await s.generator.next(), await s.generator.next()]
  await s.repo.remove(d1)
  s.supervisor.reconcileAll()
  await settle()
  assert.ok(run1.ctx.signal.aborted)
  assert.not.ok(run2.ctx.signal.aborted, 'the other user’s worker runs on')
  assert.is(s.supervisor.running, 1)
  // u1's download again, under a new id: its old worker (gone) must not stop the new one.
  await s.repo.insert(s.live({ id: 'u1-again', userId: 'u1', owner: 'me' }))
  s.supervisor.reconcile(['u1'])
  const again = await s.generator.next()
  s.supervisor.reconcile(['u1'])
  await settle()
  assert.not.ok(again.ctx.signal.aborted)
  assert.is(s.supervisor.running, 2)
  await s.supervisor.close()
})

/** Two live downloads of u1 in the log: 'a-first', owned by `firstOwner`, and 'b-second', mine. */
async function twoOfOneUser(s: ReturnType<typeof setup>, firstOwner: string) {
  const first = s.live({ id: 'a-first', userId: 'u1', owner: firstOwner, state: 'processing' })
  const second = s.live({ id: 'b-second', userId: 'u1', owner: 'me', createdAt: s.clock.now() + 1 })
  await s.log.append({ type: 'put', download: first })
  await s.log.append({ type: 'put', download: second })
  return { first, second }
}

test('of two downloads of one user, the owner of the later one dismisses it everywhere', async () => {
  const s = setup()
  // Both were accepted on different nodes at the same moment; the log holds both.
  await twoOfOneUser(s, 'other')
  s.supervisor.reconcile(['u1'])
  await settle()
  assert.ok(
    s.log.ops.some((op) => op.type === 'remove' && op.id === 'b-second'),
    'the loser is dismissed in the log',
  )
  assert.is(s.repo.forUser('u1')?.id, 'a-first')
  assert.is(s.supervisor.running, 0, 'this node runs nothing for the user')
})

test('a node waiting for its cluster after a restart dismisses no download as superseded: the older one may be a record its cluster dismissed while it was down', async () => {
  const s = setup()
  s.rejoin.ready = false
  // What the restarted node's log still says: a download of u1 that its cluster has since
  // finished and dismissed, and the user's new request, made on another node and sent here.
  const { first: stale } = await twoOfOneUser(s, 'me')
  s.supervisor.reconcile(['u1'])
  await settle()
  assert.not.ok(
    s.log.ops.some((op) => op.type === 'remove'),
    'nothing is dismissed before the node has caught up',
  )
  // Caught up: the dismissal of the stale one has arrived, and the fresh one is the user's.
  await s.repo.remove(stale)
  s.rejoin.ready = true
  s.supervisor.reconcile(['u1'])
  await settle()
  assert.is(s.repo.forUser('u1')?.id, 'b-second')
  assert.not.ok(s.log.ops.some((op) => op.type === 'remove' && op.id === 'b-second'))
  await s.supervisor.close()
})

test('a race of two requests is settled once the node may act', async () => {
  const s = setup()
  s.rejoin.ready = false
  await twoOfOneUser(s, 'other')
  s.supervisor.reconcile(['u1'])
  await settle()
  assert.not.ok(s.log.ops.some((op) => op.type === 'remove'))
  s.rejoin.ready = true
  s.supervisor.reconcileAll()
  await settle()
  assert.ok(s.log.ops.some((op) => op.type === 'remove' && op.id === 'b-second'))
  await s.supervisor.close()
})

test('close stops every worker, each writing its newest progress first', async () => {
  const s = setup()
  const d = s.live({ userId: 'u1', owner: 'me' })
  await s.repo.insert(d)
  s.supervisor.reconcileAll()
  const run = await s.generator.next()
  run.report(7) // under the 10 % step: not checkpointed yet
  await s.supervisor.close()
  assert.is(s.repo.get(d.id)!.progress, 7)
  assert.is(s.supervisor.running, 0)
})

/** Lets the promise chains started by a tick or a write run out. */
async function drain(): Promise<void> {
  for (let i = 0; i < 10; i++) await settle()
}

test('a failed attempt is retried from its newest checkpoint once its backoff has passed, not before', async () => {
  const s = setup({ retryMs: 1000, random: () => 1 })
  const d = s.live({ userId: 'u1', owner: 'me', attempts: 3 })
  await s.repo.insert(d)
  s.supervisor.reconcileAll()
  const first = await s.generator.next()
  assert.is(first.job.attempt, 1)
  first.report(30)
  first.fail('the database went away')
  await drain()
  const waiting = s.repo.get(d.id)!
  assert.is(waiting.state, 'pending')
  assert.is(waiting.attempt, 2)
  assert.is(waiting.error, 'the database went away')
  assert.equal(waiting.checkpoint, { at: 30 })
  assert.is(waiting.retryAt, s.clock.now() + 1000)

  s.supervisor.reconcileAll()
  await s.clock.tick(999)
  await drain()
  assert.is(s.generator.runs.length, 1, 'nothing before the backoff is over')
  await s.clock.tick(1)
  const second = await s.generator.next()
  assert.is(second.job.attempt, 2)
  assert.is(second.job.progress, 30)
  assert.equal(second.job.checkpoint, { at: 30 })
  await drain()
  assert.is(s.repo.get(d.id)!.state, 'processing')
  assert.is(s.repo.get(d.id)!.retryAt, null)
  second.finish()
  await drain()
  assert.is(s.repo.get(d.id)!.state, 'ready')
  assert.is(s.repo.get(d.id)!.error, null)
})

test('the last attempt failing leaves the download in error, with no timer left', async () => {
  const s = setup({ retryMs: 1000, random: () => 0 })
  const d = s.live({ userId: 'u1', owner: 'me', attempt: 2, attempts: 2 })
  await s.repo.insert(d)
  s.supervisor.reconcileAll()
  ;(await s.generator.next()).fail('still broken')
  await drain()
  assert.is(s.repo.get(d.id)!.state, 'error')
  assert.is(s.repo.get(d.id)!.error, 'still broken')
  s.supervisor.reconcileAll()
  await s.clock.tick(60_000)
  await drain()
  assert.is(s.generator.runs.length, 1)
})

test('a dismissal during the backoff: the retry never runs', async () => {
  const s = setup({ retryMs: 1000, random: () => 1 })
  const d = s.live({ userId: 'u1', owner: 'me', attempts: 3 })
  await s.repo.insert(d)
  s.supervisor.reconcileAll()
  ;(await s.generator.next()).fail('boom')
  await drain()
  s.supervisor.reconcileAll()
  await s.repo.remove(s.repo.get(d.id)!)
  s.supervisor.reconcileAll()
  await s.clock.tick(5000)
  await drain()
  assert.is(s.generator.runs.length, 1)
})

test('a successor takes over a download waiting for its retry only when the backoff is over', async () => {
  const s = setup()
  const d = s.live({
    userId: 'u1',
    owner: 'dead-node',
    ownerName: 'n2',
    state: 'pending',
    attempt: 2,
    attempts: 3,
    progress: 40,
    checkpoint: { at: 40 },
    retryAt: s.clock.now() + 2000,
  })
  await s.repo.insert(d)
  s.gone.set('dead-node', ME)
  s.supervisor.reconcileAll()
  await drain()
  assert.is(s.repo.get(d.id)!.owner, 'dead-node', 'not taken over during the backoff')
  await s.clock.tick(2000)
  await drain()
  const taken = s.repo.get(d.id)!
  assert.is(taken.owner, 'me')
  assert.is(taken.retryAt, null)
  s.supervisor.reconcileAll()
  const run = await s.generator.next()
  assert.is(run.job.attempt, 2)
  assert.equal(run.job.checkpoint, { at: 40 })
})

test.run()
