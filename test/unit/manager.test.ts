import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { rejects } from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import {
  DownloadManager,
  type ManagerOptions,
  type ProgressRelay,
} from '../../src/downloads/manager.ts'
import {
  DownloadConflictError,
  CutOffError,
  JoiningError,
  RACE_LOST_MESSAGE,
  TooManyActionsError,
} from '../../src/downloads/errors.ts'
import type { DownloadEvent, OpenedFile } from '../../src/downloads/service.ts'
import type { ProgressTick, RelayedCheckpoint } from '../../src/cluster/relay.ts'
import { fakeClock } from '../helpers/clock.ts'
import { MemoryFileStore, memoryRepository, steppedGenerator } from '../helpers/fakes.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'
import { download } from '../helpers/records.ts'
import type { Download } from '../../src/store/record.ts'

const settle = () => new Promise((resolve) => setImmediate(resolve))

class FakeRelay
  extends EventEmitter<{ progress: [ProgressTick]; checkpoint: [RelayedCheckpoint] }>
  implements ProgressRelay
{
  readonly published: ProgressTick[] = []
  readonly checkpoints: { to: readonly string[]; copy: RelayedCheckpoint }[] = []
  sendCheckpoint(to: readonly string[], copy: RelayedCheckpoint) {
    this.checkpoints.push({ to, copy })
    return to.length
  }
  readonly watching = new Set<string>()
  watch(userId: string) {
    this.watching.add(userId)
  }
  unwatch(userId: string) {
    this.watching.delete(userId)
  }
  publish(tick: ProgressTick) {
    this.published.push(tick)
  }
}

function setup(over: Partial<ManagerOptions> = {}) {
  const clock = fakeClock()
  const { log, repo } = memoryRepository(clock)
  const files = new MemoryFileStore()
  const generator = steppedGenerator()
  const relay = new FakeRelay()
  const logger = recordingLogger()
  const self = { id: 'me', name: 'n1' }
  const manager = new DownloadManager({
    repo,
    files,
    generator,
    self,
    placement: {
      ownerFor: () => self,
      successorFor: () => null,
      successorsOf: () => ['next', 'after'],
      keepsFileCopy: () => true,
      liveIds: () => [self.id],
      mayWork: () => true,
    },
    fileCopies: 1,
    relay,
    clock,
    retentionMs: 60_000,
    liveTtlMs: 30_000,
    checkpointStep: 10,
    logCheckpointMs: 10_000,
    purgeIntervalMs: 1000,
    replicationWaitMs: 750,
    actionBurst: 4,
    actionIntervalMs: 2000,
    log: logger,
    ...over,
  })
  manager.start()
  const events: DownloadEvent[] = []
  return { clock, log, repo, files, generator, relay, logger, manager, events }
}

test('request, progress (here and relayed), ready, file; a second request is refused while one lives', async () => {
  const s = setup()
  s.manager.subscribe('u1', { onDownloadEvent: (e) => s.events.push(e) })
  assert.ok(s.relay.watching.has('u1'), 'the relay is asked for this user’s ticks')
  const d = await s.manager.request('u1')
  await rejects(
    () => s.manager.request('u1'),
    (err: unknown) => err instanceof DownloadConflictError,
  )

  const run = await s.generator.next()
  run.report(5)
  assert.equal(
    s.relay.published.map((t) => [t.id, t.progress]),
    [[d.id, 5]],
    'the tick is published for other nodes',
  )
  s.relay.emit('progress', { id: d.id, userId: 'u1', epoch: 1, progress: 8, at: s.clock.now() })
  assert.is(s.manager.current('u1')!.progress, 8)

  run.finish({ filename: 'r.pdf', contentType: 'application/pdf', bytes: Buffer.from('%PDF') })
  await settle()
  await settle()
  assert.is(s.manager.current('u1')!.state, 'ready')
  const opened = (await s.manager.openFile(d.id, 'u1')) as OpenedFile
  assert.equal(
    [opened?.filename, opened?.contentType, opened?.content?.size],
    ['r.pdf', 'application/pdf', 4],
  )
  assert.is(await s.manager.openFile(d.id, 'someone-else'), null, 'never another user’s file')
  assert.ok(s.files.prefetched.length > 0, 'the file is copied here as soon as it exists')
  await s.manager.close()
})

test('a request is shown to its user once its peers were sent it, not as it is merged', async () => {
  let tell = () => {}
  const s = setup({ peersTold: () => new Promise<void>((resolve) => (tell = resolve)) })
  s.manager.subscribe('u1', { onDownloadEvent: (e) => s.events.push(e) })
  const views = () =>
    s.events.flatMap((e) => (e.type === 'download' && e.download ? [e.download] : []))
  const shown = () => views().length
  const requested = s.manager.request('u1')
  await settle()
  assert.is(s.repo.forUser('u1')?.state, 'pending', 'merged here')
  assert.is(shown(), 0, 'not shown before its peers were sent it')
  tell()
  const d = await requested
  assert.is(shown(), 1)
  assert.is(views()[0]!.id, d.id)
  // A refused request holds nothing: the download already shown stays shown.
  await rejects(
    () => s.manager.request('u1'),
    (err: unknown) => err instanceof DownloadConflictError,
  )
  s.relay.emit('progress', { id: d.id, userId: 'u1', epoch: 1, progress: 8, at: s.clock.now() })
  assert.is(shown(), 2, 'ticks reach the socket as before')
  await s.manager.close()
})

test('a file request for a record not replicated yet waits for it, up to the replication wait', async () => {
  const s = setup()
  const pending = s.manager.openFile('late', 'u1')
  const ref = await s.files.put(Buffer.from('%PDF-late'))
  await s.clock.tick(500)
  const at = s.clock.now()
  await s.log.append({
    type: 'put',
    download: download({
      id: 'late',
      userId: 'u1',
      state: 'ready',
      progress: 100,
      file: { ...ref, filename: 'late.pdf', contentType: 'application/pdf' },
      createdAt: at,
      updatedAt: at,
      finishedAt: at,
      expiresAt: at + 60_000,
    }),
  })
  assert.is(((await pending) as OpenedFile).filename, 'late.pdf')

  // However many requests wait, the repository gains no listener for them.
  const listeners = s.repo.listenerCount('change')
  const crowd = Array.from({ length: 2000 }, (_, i) => s.manager.openFile(`unknown-${i}`, 'u1'))
  assert.is(s.repo.listenerCount('change'), listeners)
  const never = s.manager.openFile('never', 'u1')
  await s.clock.tick(749)
  let answered = false
  void never.then(() => (answered = true))
  await settle()
  assert.not.ok(answered, 'still waiting at 749 ms')
  await s.clock.tick(1)
  assert.is(await never, null)
  assert.ok((await Promise.all(crowd)).every((f) => f === null))
  await s.manager.close()
})

test('a file request for a download being made again answers not-ready, to its own user only', async () => {
  const s = setup()
  // Its maker said ready and died before the others heard; the successor runs it again.
  await s.log.append({
    type: 'put',
    download: download({
      id: 'again',
      userId: 'u1',
      owner: 'other',
      state: 'processing',
      progress: 90,
      epoch: 2,
      createdAt: s.clock.now(),
      updatedAt: s.clock.now(),
      expiresAt: s.clock.now() + 60_000,
    }),
  })
  const mine = s.manager.openFile('again', 'u1')
  const theirs = s.manager.openFile('again', 'u2')
  await s.clock.tick(750)
  assert.is(await mine, 'not-ready')
  assert.is(await theirs, null, 'another user learns nothing of it')
  await s.manager.close()
})

test('a request that lost a same-moment race is told, once, to the user’s sockets here', async () => {
  const s = setup()
  s.manager.subscribe('u1', { onDownloadEvent: (e) => s.events.push(e) })
  const mine = await s.manager.request('u1')
  // A request made on another node a moment earlier arrives through the log.
  await s.log.append({
    type: 'put',
    download: download({
      id: 'elsewhere',
      userId: 'u1',
      owner: 'other',
      createdAt: mine.createdAt - 1,
      updatedAt: mine.createdAt - 1,
      expiresAt: mine.createdAt + 30_000,
    }),
  })
  await settle()
  const notices = s.events.filter((e) => e.type === 'error')
  assert.equal(notices, [{ type: 'error', message: RACE_LOST_MESSAGE }])
  assert.is(s.manager.current('u1')!.id, 'elsewhere', 'the winner is shown')
  assert.equal(
    s.logger.events('race-lost').map((e) => e.fields.winner),
    ['elsewhere'],
  )
  await s.manager.close()
})

test('an expired download is purged with its file, and its sockets are told it is gone', async () => {
  const s = setup()
  s.manager.subscribe('u1', { onDownloadEvent: (e) => s.events.push(e) })
  const d = await s.manager.request('u1')
  ;(await s.generator.next()).finish()
  await settle()
  await settle()
  assert.is(s.manager.current('u1')?.state, 'ready')
  await s.clock.tick(60_000)
  assert.is(s.manager.current('u1'), null)
  assert.equal(
    s.logger.events('purged').map((e) => e.fields.id),
    [d.id],
  )
  assert.is(s.files.removed.length, 1)
  assert.equal(s.events.at(-1), { type: 'download', download: null })
  await s.manager.close()
})

test('a dismissal clears the download and cancels its worker; a shut-down manager refuses requests', async () => {
  const s = setup()
  await s.manager.request('u1')
  const run = await s.generator.next()
  run.report(46) // below a checkpoint step: the log's record still says pending at 0 %
  const dismissed = await s.manager.dismiss('u1')
  assert.ok(dismissed)
  assert.equal(
    s.logger.events('dismiss').map((e) => [e.fields.state, e.fields.at]),
    [['processing', '46%']],
    'logged as the user saw it',
  )
  await settle()
  assert.ok(run.ctx.signal.aborted)
  assert.is(s.manager.current('u1'), null)
  assert.is(await s.manager.dismiss('u1'), null, 'nothing left to dismiss')
  await s.manager.close()
  await rejects(() => s.manager.request('u2'), /shutting down/)
})

test('a running download whose record says pending is told as processing here once a worker, a tick or a copy shows it (the state gauge)', async () => {
  const s = setup()
  const mine = await s.manager.request('u1')
  const record = () => s.repo.get(mine.id)!
  const run = await s.generator.next()
  assert.is(record().state, 'pending', 'no write for a start')
  assert.is(s.manager.stateOf(record()), 'processing', 'a worker runs it here')
  run.report(5)
  // Another owner's: pending until its ticks or a checkpoint copy reach this node.
  const theirs = download({ id: 'dl2', userId: 'u2', owner: 'n2-id', ownerName: 'n2', epoch: 2 })
  const ticked = download({ id: 'dl3', userId: 'u3', owner: 'n3-id', ownerName: 'n3', epoch: 1 })
  for (const d of [theirs, ticked])
    await s.repo.insert({
      ...d,
      expiresAt: s.clock.now() + 30_000,
      createdAt: s.clock.now(),
      updatedAt: s.clock.now(),
    })
  assert.is(s.manager.stateOf(theirs), 'pending')
  s.relay.emit('checkpoint', { id: 'dl2', userId: 'u2', epoch: 1, progress: 30, checkpoint: null })
  assert.is(s.manager.stateOf(theirs), 'pending', 'a copy of a replaced owner says nothing')
  s.relay.emit('checkpoint', { id: 'dl2', userId: 'u2', epoch: 2, progress: 30, checkpoint: null })
  assert.is(s.manager.stateOf(theirs), 'processing')
  s.relay.emit('progress', { id: 'dl3', userId: 'u3', epoch: 1, progress: 12, at: s.clock.now() })
  assert.is(s.manager.stateOf(ticked), 'processing')
  assert.is(s.manager.stateOf({ ...ticked, state: 'ready' }), 'ready')
  await s.manager.close()
})

test('a member that comes back is sent the copies held here of its own downloads’ checkpoints, ahead of the log', async () => {
  const s = setup()
  const theirs = download({ userId: 'u1', owner: 'n2-id', ownerName: 'n2', epoch: 2 })
  const other = download({ id: 'dl2', userId: 'u2', owner: 'n3-id', ownerName: 'n3' })
  const stale = download({ id: 'dl3', userId: 'u3', owner: 'n2-id', ownerName: 'n2', epoch: 3 })
  for (const d of [theirs, other, stale])
    await s.repo.insert({
      ...d,
      expiresAt: s.clock.now() + 30_000,
      createdAt: s.clock.now(),
      updatedAt: s.clock.now(),
    })
  const copy = (d: Download, epoch: number, progress: number) => ({
    id: d.id,
    userId: d.userId,
    epoch,
    progress,
    checkpoint: { at: progress },
  })
  s.relay.emit('checkpoint', copy(theirs, 2, 40))
  s.relay.emit('checkpoint', copy(other, 1, 60)) // another owner's
  s.relay.emit('checkpoint', copy(stale, 2, 70)) // of an epoch since taken over
  s.manager.memberBack('n2-id')
  assert.equal(
    s.relay.checkpoints.map((c) => [c.to, c.copy.id, c.copy.progress]),
    [[['n2-id'], theirs.id, 40]],
  )
  await s.manager.close()
})

test('a user acting faster than the limit is refused, with the wait, and writes nothing', async () => {
  const s = setup()
  await s.manager.request('u1')
  await s.manager.dismiss('u1')
  await s.manager.request('u1')
  await s.manager.dismiss('u1')
  const writes = s.log.ops.length
  await rejects(
    () => s.manager.request('u1'),
    (err: unknown) => err instanceof TooManyActionsError && /try again in 2 s/.test(err.message),
  )
  await rejects(() => s.manager.dismiss('u1'), TooManyActionsError)
  assert.is(s.log.ops.length, writes, 'a refused action writes nothing')
  assert.ok(await s.manager.request('u2'), 'another user is not held back')
  await s.clock.tick(2000)
  assert.ok(await s.manager.request('u1'), 'allowed again once the interval passed')
  await s.manager.close()
})

test('a node whose clock is not yet checked against its cluster refuses new downloads, clearly', async () => {
  let trusted = false
  const s = setup({ timeTrusted: () => trusted })
  await rejects(
    () => s.manager.request('u1'),
    (err: unknown) => err instanceof JoiningError && /still joining its cluster/.test(err.message),
  )
  trusted = true
  const d = await s.manager.request('u1')
  assert.is(d.state, 'pending')
})

test('a node cut off from its quorum refuses new downloads, saying how much of its cluster it reaches', async () => {
  let quorum = { ok: false, reachable: 1, voters: 3, needed: 2 }
  const s = setup({ quorum: () => quorum })
  await rejects(
    () => s.manager.request('u1'),
    (err: unknown) =>
      err instanceof CutOffError && /cut off .* reaches 1 of 3 servers/.test(err.message),
  )
  assert.is(s.log.ops.length, 0, 'nothing written')
  quorum = { ...quorum, ok: true, reachable: 2 }
  const d = await s.manager.request('u1')
  assert.is(d.state, 'pending')
  // A user who has a download is told so first, whatever state the node is in.
  quorum = { ...quorum, ok: false, reachable: 1 }
  await rejects(
    () => s.manager.request('u1'),
    (err: unknown) => err instanceof DownloadConflictError,
  )
})

test.run()
