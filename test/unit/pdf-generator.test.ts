import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { Checkpoint } from '../../src/store/record.ts'
import { createFailingGenerator, createPdfGenerator } from '../../src/downloads/pdf-generator.ts'
import type { Job, Sleep } from '../../src/downloads/generator.ts'
import { systemClock } from '../../src/clock.ts'
import { assertValidPdf } from '../helpers/pdf.ts'

/** A clock that moves only when the generator sleeps: no real waiting in unit tests. */
function fakeTime() {
  let now = 1_700_000_000_000
  const sleeps: number[] = []
  const sleep: Sleep = async (ms, signal) => {
    if (signal.aborted) throw signal.reason
    sleeps.push(ms)
    now += ms
  }
  const clock = { ...systemClock, now: () => now }
  return { clock, sleep, sleeps }
}

const job: Job = {
  id: 'job1',
  userId: 'user1',
  createdAt: 1_700_000_000_000,
  progress: 0,
  checkpoint: null,
  params: {},
  attempt: 1,
  nodeName: 'n1',
}

test('reports rising progress at least every 200 ms of work and produces a valid PDF', async () => {
  const time = fakeTime()
  const gen = createPdfGenerator({ workMs: 6000, clock: time.clock, sleep: time.sleep })
  const reports: number[] = []
  const file = await gen.run(job, {
    signal: new AbortController().signal,
    report: (p) => reports.push(p),
  })
  assert.ok(
    time.sleeps.every((ms) => ms <= 200),
    'no silent gap over 200 ms',
  )
  assert.is(
    time.sleeps.reduce((a, b) => a + b, 0),
    6000,
  )
  assert.ok(reports.length >= 30)
  for (let i = 1; i < reports.length; i++)
    assert.ok((reports[i] as number) >= (reports[i - 1] as number))
  assert.is(reports.at(-1), 99, 'the last tick before the file is written')
  assert.is(file.contentType, 'application/pdf')
  assert.is(file.filename, 'report-job1.pdf')
  assertValidPdf(file.bytes)
  assert.ok(
    file.bytes.toString('latin1').includes('Download report job1'),
    'title names the download',
  )
})

test('resumes from a checkpoint: only the remaining work is done', async () => {
  const first = fakeTime()
  const gen = createPdfGenerator({ workMs: 1000, clock: first.clock, sleep: first.sleep })
  const controller = new AbortController()
  let saved: Checkpoint | null = null
  let savedProgress = 0
  await gen
    .run(job, {
      signal: controller.signal,
      report(progress, checkpoint) {
        saved = checkpoint
        savedProgress = progress
        if (progress >= 40) controller.abort(new Error('node died'))
      },
    })
    .then(
      () => assert.unreachable('should have been aborted'),
      (err: Error) => assert.is(err.message, 'node died'),
    )
  assert.is(savedProgress, 40)

  const second = fakeTime()
  const resumed = createPdfGenerator({ workMs: 1000, clock: second.clock, sleep: second.sleep })
  const reports: number[] = []
  const file = await resumed.run(
    { ...job, progress: savedProgress, checkpoint: saved, nodeName: 'n2' },
    { signal: new AbortController().signal, report: (p) => reports.push(p) },
  )
  assert.is(
    second.sleeps.reduce((a, b) => a + b, 0),
    600,
    'the remaining 60% only',
  )
  assert.ok((reports[0] as number) > 40)
  assertValidPdf(file.bytes)
})

test('a failing generator rejects with its message after reporting progress', async () => {
  const time = fakeTime()
  const gen = createFailingGenerator({
    workMs: 1000,
    failAtPercent: 50,
    clock: time.clock,
    sleep: time.sleep,
  })
  const reports: number[] = []
  await gen.run(job, { signal: new AbortController().signal, report: (p) => reports.push(p) }).then(
    () => assert.unreachable('should fail'),
    (err: Error) => assert.match(err.message, /failed at 50%/),
  )
  assert.ok(reports.length > 0 && reports.every((p) => p < 50))
})

test.run()
