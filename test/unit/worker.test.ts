import { test } from 'uvu'
import { Readable } from 'node:stream'
import * as assert from 'uvu/assert'
import { Worker } from '../../src/downloads/worker.ts'
import { STOP_GRACE_MS } from '../../src/downloads/stop-grace.ts'
import type { DiskFileRef, Download } from '../../src/store/record.ts'
import type { Generator } from '../../src/downloads/generator.ts'
import type { RelayedCheckpoint } from '../../src/cluster/relay.ts'
import { fakeClock } from '../helpers/clock.ts'
import { MemoryFileStore, memoryRepository, steppedGenerator, type Run } from '../helpers/fakes.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'
import { download } from '../helpers/records.ts'

const LIVE_TTL_MS = 30_000
const RETENTION_MS = 60_000

async function setup(over: Partial<Download> = {}, copies?: RelayedCheckpoint[]) {
  const clock = fakeClock()
  const { log, repo } = memoryRepository(clock)
  const files = new MemoryFileStore()
  const generator = steppedGenerator()
  const logger = recordingLogger()
  const ticks: number[] = []
  const d = download({
    owner: 'me',
    ownerName: 'n1',
    createdAt: clock.now(),
    updatedAt: clock.now(),
    expiresAt: clock.now() + LIVE_TTL_MS,
    ...over,
  })
  await repo.insert(d)
  const start = (job: Generator = generator) =>
    new Worker({
      download: repo.get(d.id)!,
      generator: job,
      repo,
      files,
      nodeName: 'n1',
      clock,
      liveTtlMs: LIVE_TTL_MS,
      retentionMs: RETENTION_MS,
      checkpointStep: 10,
      logCheckpointMs: 10_000,
      onProgress: (_, progress) => ticks.push(progress),
      ...(copies && { onCheckpoint: (copy: RelayedCheckpoint) => copies.push(copy) }),
      log: logger,
    })
  return { clock, log, repo, files, generator, logger, ticks, d, start }
}

/** Lets the writes queued so far reach the log (microtasks and I/O callbacks only; no time). */
const settle = () => new Promise((resolve) => setImmediate(resolve))

/** The writes the worker made to the log, oldest first. */
function writes(log: { ops: { type: string; download?: Download }[] }): Download[] {
  return log.ops.flatMap((op) => (op.type === 'put' && op.download ? [op.download] : []))
}

test('a run starts without a write, checkpoints every 10 %, and ends ready with the generator’s file', async () => {
  const s = await setup()
  const worker = s.start()
  const run = await s.generator.next()
  assert.is(s.repo.get(s.d.id)?.state, 'pending', 'the work began before any write')
  for (const p of [3, 6, 9, 12]) run.report(p)
  await settle()
  assert.is(s.repo.get(s.d.id)?.state, 'processing', 'a checkpoint says it runs')
  for (const p of [15, 22]) run.report(p)
  await settle()
  assert.equal(s.ticks, [3, 6, 9, 12, 15, 22], 'every tick goes to the feed at once')
  run.finish({ filename: 'march.csv', contentType: 'text/csv', bytes: Buffer.from('a,b\n') })
  await worker.done

  const progressWritten = writes(s.log).map((d) => d.progress)
  assert.equal(progressWritten, [0, 12, 22, 100], 'insert, two checkpoints, ready')
  const ready = s.repo.get(s.d.id)!
  assert.is(ready.state, 'ready')
  assert.is(ready.file?.filename, 'march.csv')
  assert.is(ready.file?.contentType, 'text/csv')
  assert.is(ready.checkpoint, null)
  assert.is(ready.expiresAt, s.clock.now() + RETENTION_MS)
  assert.is(s.files.files.get((ready.file as DiskFileRef).name)?.toString(), 'a,b\n')
})

test('with successors to hold its checkpoints, a download no failure touched costs the log 2 operations', async () => {
  const copies: RelayedCheckpoint[] = []
  const s = await setup({}, copies)
  const worker = s.start()
  const run = await s.generator.next()
  for (let p = 5; p <= 95; p += 5) run.report(p)
  await settle()
  run.finish()
  await worker.done
  assert.equal(
    writes(s.log).map((d) => [d.state, d.progress]),
    [
      ['pending', 0],
      ['ready', 100],
    ],
    'the request and the outcome',
  )
  assert.equal(
    copies.map((c) => c.progress),
    [10, 20, 30, 40, 50, 60, 70, 80, 90],
    'every step went to the successors',
  )
  assert.equal(copies[3], {
    id: s.d.id,
    userId: s.d.userId,
    epoch: s.d.epoch,
    progress: 40,
    checkpoint: { at: 40 },
  })
})

test('a long run still writes a checkpoint to the log every logCheckpointMs, for when its successors die too', async () => {
  const copies: RelayedCheckpoint[] = []
  const s = await setup({}, copies)
  const worker = s.start()
  const run = await s.generator.next()
  for (const p of [10, 20]) {
    await s.clock.tick(4000)
    run.report(p)
  }
  await s.clock.tick(2000)
  await settle()
  assert.equal(
    writes(s.log).map((d) => d.progress),
    [0, 20],
    'one fallback after 10 s of work, with the newest progress, not one per step',
  )
  assert.is(s.repo.get(s.d.id)!.expiresAt, s.clock.now() + LIVE_TTL_MS, 'the lease renewed')
  run.report(30)
  await settle()
  assert.is(writes(s.log).length, 2, 'the next waits for the next 10 s')
  worker.stop('shutdown')
  await worker.done
})

test('a download whose percent stays put for longer than its lease does not expire while its worker runs', async () => {
  const s = await setup()
  const worker = s.start()
  const run = await s.generator.next()
  run.report(5)
  // Two leases long, at 5 % all along (a slow step of a long job), reported or not.
  for (let t = 0; t < 2 * LIVE_TTL_MS; t += 1000) {
    await s.clock.tick(1000)
    if (t % 4000 === 0) run.report(5)
    await settle()
    assert.ok(s.repo.get(s.d.id)!.expiresAt > s.clock.now(), `live at ${t + 1000} ms`)
  }
  assert.equal(s.repo.purge(), [], 'nothing to purge')
  const renewals = writes(s.log).slice(1)
  assert.ok(renewals.length >= 5 && renewals.length <= 7, `one a lease's third: ${renewals.length}`)
  assert.ok(renewals.every((d) => d.progress === 5 && d.checkpoint?.at === 5))
  run.finish()
  await worker.done
  assert.is(s.repo.get(s.d.id)!.state, 'ready')
})

/** A job that reports 5 %, then never ends, whatever its signal says. */
const deaf: Generator = {
  name: 'deaf',
  run: (_job, ctx) => {
    ctx.report(5, { at: 5 })
    return new Promise(() => {})
  },
}

test('a job that does not end when dismissed is let go after the grace, told once: the worker is done', async () => {
  const s = await setup()
  const worker = s.start(deaf)
  await settle()
  worker.stop('dismissed') // as the supervisor does when the record is dismissed
  let done = false
  void worker.done.then(() => (done = true))
  await s.clock.tick(STOP_GRACE_MS - 1)
  assert.not.ok(done, 'given the grace')
  await s.clock.tick(1)
  assert.ok(done, 'then done: no longer counted as running')
  assert.equal(
    s.logger.events('job-ignored-stop').map((e) => [e.level, e.fields.job, e.fields.reason]),
    [['warn', 'deaf', 'dismissed']],
  )
  assert.equal(
    s.logger.events('stopped').map((e) => e.fields.reason),
    ['dismissed'],
  )
})

test('a shutdown writes the newest progress of a job that does not end, without waiting for it', async () => {
  const s = await setup()
  const worker = s.start(deaf)
  await settle()
  const stopped = worker.stopAndCheckpoint()
  await s.clock.tick(300)
  await stopped
  const d = s.repo.get(s.d.id)!
  assert.equal([d.state, d.progress, d.checkpoint], ['processing', 5, { at: 5 }])
})

test('a download made ready and dismissed while its ready is on its way to the disk is a completion, not a stop', async () => {
  const s = await setup()
  const worker = s.start()
  const run = await s.generator.next()
  s.log.holdWrites()
  run.finish()
  await s.clock.tick(0)
  for (let i = 0; i < 5; i++) await settle()
  assert.is(s.repo.get(s.d.id)?.state, 'ready', 'merged here: the page sees it ready')
  await s.repo.remove(s.repo.get(s.d.id)!) // the user took the file and dismissed it
  s.log.releaseWrites()
  await worker.done
  assert.is(s.logger.events('ready').length, 1, 'its ready line')
  assert.equal(s.logger.events('stopped'), [], 'no stop')
})

test('checkpoints queued while one is written coalesce: only the newest follows it', async () => {
  const s = await setup()
  const worker = s.start()
  const run = await s.generator.next()
  s.log.hold()
  run.report(12)
  await settle() // 12 is being written
  for (const p of [25, 38, 51]) run.report(p)
  s.log.release()
  await settle()
  assert.equal(
    writes(s.log).map((d) => d.progress),
    [0, 12, 51],
  )
  worker.stop('shutdown')
  await worker.done
})

test('a checkpoint carries the generator’s resume state, and a later run starts from it', async () => {
  const s = await setup()
  const worker = s.start()
  const run = await s.generator.next()
  run.report(40)
  await Promise.resolve()
  worker.stop('shutdown')
  await worker.done
  const saved = s.repo.get(s.d.id)!
  assert.equal([saved.progress, saved.checkpoint], [40, { at: 40 }])

  const again = s.start()
  const resumed = await s.generator.next()
  assert.is(resumed.job.progress, 40)
  assert.equal(resumed.job.checkpoint, { at: 40 })
  again.stop('shutdown')
  await again.done
})

test('a download resumed with its lease running short renews it before the work; a fresh one does not write', async () => {
  const s = await setup({ state: 'processing', progress: 40, checkpoint: { at: 40 } })
  await s.clock.tick(LIVE_TTL_MS / 2) // a restart: half the lease went by with no worker
  const worker = s.start()
  const run = await s.generator.next()
  const renewed = writes(s.log).at(-1)!
  assert.is(writes(s.log).length, 2, 'one write before the work')
  assert.is(renewed.expiresAt, s.clock.now() + LIVE_TTL_MS)
  assert.is(run.job.progress, 40, 'and it resumed from the checkpoint')
  assert.ok(s.logger.events('resume').length === 1)
  worker.stop('shutdown')
  await worker.done
})

test('with no progress step due, the lease is renewed after a third of its TTL', async () => {
  const s = await setup()
  const worker = s.start()
  const run = await s.generator.next()
  run.report(1)
  await s.clock.tick(LIVE_TTL_MS / 3)
  run.report(2)
  await settle()
  await worker.stopAndCheckpoint()
  const renewals = writes(s.log).filter((d) => d.progress === 2)
  assert.ok(renewals.length >= 1, 'progress 2 was written although it is no 10 % step')
  assert.is(renewals[0]!.expiresAt, s.clock.now() + LIVE_TTL_MS)
})

test('a generator that throws leaves the download in error with its message', async () => {
  const s = await setup()
  const worker = s.start()
  ;(await s.generator.next()).fail('the printer is on fire')
  await worker.done
  const d = s.repo.get(s.d.id)!
  assert.is(d.state, 'error')
  assert.is(d.error, 'the printer is on fire')
  assert.is(d.expiresAt, s.clock.now() + RETENTION_MS)
})

test('a dismissal stops the worker: the generator is aborted and nothing more is written', async () => {
  const s = await setup()
  const worker = s.start()
  const run = await s.generator.next()
  run.report(15)
  await s.repo.remove(s.repo.get(s.d.id)!)
  run.report(35) // its checkpoint loses to the dismissal
  await worker.done
  assert.ok(run.ctx.signal.aborted)
  assert.is(s.repo.get(s.d.id), null)
  assert.equal(
    s.logger.events('stopped').map((e) => e.fields.reason),
    ['dismissed'],
  )
})

test('a takeover at a higher epoch fences the former owner at its next write', async () => {
  const s = await setup()
  const worker = s.start()
  const run = await s.generator.next()
  run.report(15)
  await Promise.resolve()
  const current = s.repo.get(s.d.id)!
  await s.repo.update({ ...current, owner: 'other', epoch: 2, version: current.version + 1 })
  run.report(30)
  await worker.done
  assert.ok(run.ctx.signal.aborted, 'the generator is told to stop')
  assert.equal(
    s.logger.events('stopped').map((e) => e.fields.reason),
    ['fenced'],
  )
  assert.is(s.repo.get(s.d.id)!.owner, 'other', 'the successor’s record stands')
})

test('a file name the generator made unsafe is mended; an invalid content type fails the download', async () => {
  const s = await setup()
  let worker = s.start()
  ;(await s.generator.next()).finish({ filename: 'Q3 "final"/report.pdf' })
  await worker.done
  assert.is(s.repo.get(s.d.id)!.file?.filename, 'Q3 _final__report.pdf')

  const t = await setup()
  worker = t.start()
  ;(await t.generator.next()).finish({ contentType: 'text/csv\r\nx-evil: 1' })
  await worker.done
  const d = t.repo.get(t.d.id)!
  assert.is(d.state, 'error')
  assert.match(d.error ?? '', /invalid content type/)
})

test('a failing log halts the worker without failing the download', async () => {
  const s = await setup()
  const worker = s.start()
  const run = await s.generator.next()
  s.log.failing = new Error('No space left on device')
  run.finish()
  await worker.done
  assert.is(s.repo.get(s.d.id)!.state, 'pending', 'left as it was, for a later attempt')
  assert.equal(
    s.logger.events('worker-halted').map((e) => e.fields.error),
    ['No space left on device'],
  )
})

test('a bad report fails the download at once, without retries, with what was wrong (not a throw into the job’s callback) and where the job made it', async () => {
  for (const [report, problem] of [
    [(r: Run) => r.ctx.report(Number.NaN, {}), /progress must be a number, got NaN/],
    [(r: Run) => r.ctx.report('30' as never, {}), /progress must be a number, got the string "30"/],
    [(r: Run) => r.ctx.report(150, {}), /progress must be a percent from 0 to 100, got 150/],
    [(r: Run) => r.ctx.report(-5, {}), /progress must be a percent from 0 to 100, got -5/],
    [(r: Run) => r.ctx.report(10, { nested: { no: 1 } } as never), /flat object/],
  ] as const) {
    // A bug of the job's: a retry would do the same.
    const s = await setup({ attempts: 3 })
    const worker = s.start()
    const run = await s.generator.next()
    report(run)
    assert.ok(run.ctx.signal.aborted, 'the job is told to stop')
    await worker.done
    const d = s.repo.get(s.d.id)!
    assert.is(d.state, 'error')
    assert.is(d.attempt, 1)
    assert.match(d.error!, problem)
    const failed = s.logger.events('failed')[0]!
    assert.match(String(failed.fields.thrownAt), /worker\.test\.ts:\d+:\d+$/, 'the job’s line')
  }
})

test('progress is kept within 0-99: a job saying 100 is shown 99, the file being ready for the worker to say', async () => {
  const s = await setup()
  s.start()
  const run = await s.generator.next()
  run.ctx.report(100, { at: 100 })
  assert.equal(s.ticks, [99])
})

test('a report that comes after the job threw cannot undo the retry it decided', async () => {
  const s = await setup({ attempts: 2 })
  const worker = s.start()
  const run = await s.generator.next()
  run.report(20)
  await settle()
  // The log is slow; the job throws, and a timer of its own still reports after that.
  s.log.hold()
  run.fail('the database went away')
  await settle()
  run.ctx.report(70, { at: 70 })
  s.log.release()
  await worker.done
  await settle()
  const d = s.repo.get(s.d.id)!
  assert.is(d.state, 'pending', 'still waiting for its retry')
  assert.ok(d.retryAt !== null)
  // Its author is told where it threw: the user is shown its message only.
  assert.match(String(s.logger.events('retry')[0]!.fields.thrownAt), /fakes\.ts:\d+:\d+$/)
  assert.equal(d.checkpoint, { at: 20 })
  assert.is(writes(s.log).at(-1)!.state, 'pending', 'nothing written after the outcome')
})

test('a job whose stream fails is retried with the stream’s error', async () => {
  const s = await setup({ attempts: 2 })
  const worker = s.start()
  const run = await s.generator.next()
  run.report(20)
  async function* broken() {
    yield Buffer.from('a,b\n')
    throw new Error('the source closed')
  }
  run.finish({ stream: Readable.from(broken()), bytes: undefined })
  await worker.done
  const d = s.repo.get(s.d.id)!
  assert.is(d.state, 'pending')
  assert.is(d.attempt, 2)
  assert.is(d.error, 'the source closed')
  assert.is(d.progress, 20)
})

test('a job whose stream yields objects fails at once, without retries: the same code yields the same', async () => {
  const s = await setup({ attempts: 3 })
  const worker = s.start()
  async function* rows() {
    yield 'number,amount\n'
    yield { number: 1, amount: 20 }
  }
  ;(await s.generator.next()).finish({ stream: Readable.from(rows()), bytes: undefined })
  await worker.done
  const d = s.repo.get(s.d.id)!
  assert.equal([d.state, d.attempt], ['error', 1])
  assert.is(
    d.error,
    "The generator returned a stream that is not bytes: a file's stream must yield Buffers, Uint8Arrays or strings, not an object.",
  )
})

test('a job whose run returns its file as a plain value, not a promise, makes its download', async () => {
  const s = await setup()
  const plain: Generator = {
    name: 'plain',
    run: (() => ({
      filename: 'plain.txt',
      contentType: 'text/plain',
      bytes: Buffer.from('x'),
    })) as unknown as Generator['run'],
  }
  await s.start(plain).done
  assert.is(s.repo.get(s.d.id)!.state, 'ready')
})

test('the lease is not renewed while the attempt’s first write is on its way: the worker does not fence itself', async () => {
  const s = await setup({ retryAt: 1, attempt: 2 })
  s.log.holdWrites() // a slow disk: the write that clears retryAt waits, past a lease's third
  const worker = s.start()
  await s.clock.tick(LIVE_TTL_MS - 1000)
  s.log.releaseWrites()
  const run = await s.generator.next()
  assert.equal(s.logger.events('stopped'), [], 'not stopped')
  run.finish()
  await worker.done
  assert.is(s.repo.get(s.d.id)!.state, 'ready')
})

test('a shutdown while the outcome is being written waits for it: the ready line, not a stop', async () => {
  const s = await setup()
  const worker = s.start()
  const run = await s.generator.next()
  s.log.holdWrites()
  run.finish()
  for (let i = 0; i < 5; i++) await settle()
  const stopped = worker.stopAndCheckpoint()
  await s.clock.tick(1000)
  s.log.releaseWrites()
  await stopped
  assert.is(s.logger.events('ready').length, 1)
  assert.equal(s.logger.events('stopped'), [])
})

test.run()
