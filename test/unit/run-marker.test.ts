import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { RunMarker, type RunMarkerOptions } from '../../src/run-marker.ts'
import { fakeClock } from '../helpers/clock.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'
import { tempDir } from '../helpers/node.ts'

const START = Date.UTC(2026, 11, 5, 3, 0, 0)

/** Runs `fn` in a fresh directory, removed after. */
async function inTempDir(fn: (dir: { path: string }) => Promise<void>): Promise<void> {
  const dir = await tempDir()
  try {
    await fn(dir)
  } finally {
    await dir.remove()
  }
}

async function markRun(o: RunMarkerOptions): Promise<RunMarker> {
  const marker = new RunMarker(o)
  await marker.start()
  return marker
}

test('a node that stopped cleanly starts again without a word; one that was killed says so, with when it was last alive', () =>
  inTempDir(async (dir) => {
    const clock = fakeClock(START)
    const log = recordingLogger()
    const first = await markRun({ dataDir: dir.path, clock, log, pid: 4242 })
    assert.equal(log.entries, [], 'a fresh data directory: nothing to say')
    await first.stop()
    const second = await markRun({ dataDir: dir.path, clock, log, pid: 4243 })
    assert.equal(log.entries, [], 'the last run stopped cleanly')
    // Alive for 95 s, then killed: no stop.
    await clock.tick(95_000)
    await second.written()
    const third = new RunMarker({ dataDir: dir.path, clock, log, pid: 4244 })
    await third.start(() => ['d1', 'd2'])
    const [told, ...more] = log.events('unclean-stop')
    assert.equal(more, [])
    assert.is(told!.level, 'warn')
    assert.is(told!.fields.pid, 4243)
    assert.is(told!.fields.startedAt, '2026-12-05T03:00:00.000Z')
    assert.is(told!.fields.aliveAt, '2026-12-05T03:01:30.000Z', 'its last rewrite, at 90 s')
    assert.match(String(told!.fields.message), /did not stop cleanly: it was killed/)
    assert.match(String(told!.fields.message), /last known alive at 2026-12-05T03:01:30.000Z/)
    assert.is(told!.fields.downloads, 'd1,d2', 'what its store says it was making')
    await third.stop()
    await third.stop()
  }))

test('a marker that cannot be read still says the last run did not stop cleanly', () =>
  inTempDir(async (dir) => {
    const log = recordingLogger()
    // A run killed between the write of its marker's copy and its rename leaves a whole
    // marker; a marker damaged otherwise is read as a run that ended without a stop.
    await writeFile(join(dir.path, 'running.json'), '{"pid": 12')
    const run = await markRun({ dataDir: dir.path, clock: fakeClock(START), log })
    const [told] = log.events('unclean-stop')
    assert.match(String(told!.fields.message), /did not stop cleanly/)
    assert.is(told!.fields.pid, undefined, 'nothing made up')
    await run.stop()
    const again = await markRun({ dataDir: dir.path, clock: fakeClock(START), log })
    assert.is(log.events('unclean-stop').length, 1)
    await again.stop()
  }))

test('a marker that cannot be written is a warning, once, and the node starts all the same', () =>
  inTempDir(async (dir) => {
    const clock = fakeClock(START)
    const log = recordingLogger()
    // Its temporary file's name taken by a directory: every write fails.
    await mkdir(join(dir.path, 'running.json.tmp'))
    const run = await markRun({ dataDir: dir.path, clock, log })
    for (let i = 0; i < 4; i++) {
      await clock.tick(30_000)
      await run.written()
    }
    const [told, ...more] = log.events('run-marker-failed')
    assert.equal(more, [], 'said once, not every half minute')
    assert.match(String(told!.fields.message), /its next start will not say so/)
    await run.stop()
  }))

test('the marker says which run it is while the node runs', () =>
  inTempDir(async (dir) => {
    const clock = fakeClock(START)
    const run = await markRun({ dataDir: dir.path, clock, log: recordingLogger(), pid: 7 })
    await clock.tick(30_000)
    await run.written()
    const marker = JSON.parse(await readFile(join(dir.path, 'running.json'), 'utf8'))
    assert.equal(marker, { pid: 7, run: marker.run, startedAt: START, aliveAt: START + 30_000 })
    assert.type(marker.run, 'string')
    await run.stop()
    await readFile(join(dir.path, 'running.json')).then(
      () => assert.unreachable('a clean stop removes it'),
      (err: NodeJS.ErrnoException) => assert.is(err.code, 'ENOENT'),
    )
  }))

test("a marker another run wrote since is not this run's to remove, and a marker never started removes nothing", () =>
  inTempDir(async (dir) => {
    const log = recordingLogger()
    const clock = fakeClock(START)
    const first = await markRun({ dataDir: dir.path, clock, log, pid: 1 })
    // Its store closed, another node took the directory before this one's last step.
    const second = await markRun({ dataDir: dir.path, clock, log, pid: 2 })
    await first.stop()
    const left = JSON.parse(await readFile(join(dir.path, 'running.json'), 'utf8'))
    assert.is(left.pid, 2, "the running node's marker stays")
    await new RunMarker({ dataDir: dir.path, clock, log, pid: 3 }).stop()
    assert.is(JSON.parse(await readFile(join(dir.path, 'running.json'), 'utf8')).pid, 2)
    await second.stop()
  }))

test('a stop that began but did not finish is told as such, not as a kill', () =>
  inTempDir(async (dir) => {
    const clock = fakeClock(START)
    const log = recordingLogger()
    const first = await markRun({ dataDir: dir.path, clock, log, pid: 11 })
    await clock.tick(10_000)
    // SIGTERM: the stop begins, and the process is ended by its time limit before it is through.
    first.stopping()
    first.stopping()
    const next = await markRun({ dataDir: dir.path, clock, log, pid: 12 })
    const [told] = log.events('unclean-stop')
    assert.is(told!.fields.stoppingAt, '2026-12-05T03:00:10.000Z')
    assert.match(
      String(told!.fields.message),
      /^the last run of this node \(pid 11, up since 2026-12-05T03:00:00.000Z\) began to stop at 2026-12-05T03:00:10.000Z but did not finish: its stop took longer than allowed/,
    )
    await next.stop()
    // A stop that finishes removes the marker all the same.
    const clean = await markRun({ dataDir: dir.path, clock, log, pid: 13 })
    clean.stopping()
    await clean.stop()
    await markRun({ dataDir: dir.path, clock, log, pid: 14 }).then((m) => m.stop())
    assert.is(log.events('unclean-stop').length, 1)
  }))

test('an earlier start in the same process is named so', () =>
  inTempDir(async (dir) => {
    const clock = fakeClock(START)
    const log = recordingLogger()
    await markRun({ dataDir: dir.path, clock, log, pid: 21 })
    const next = await markRun({ dataDir: dir.path, clock, log, pid: 21 })
    assert.match(
      String(log.events('unclean-stop')[0]!.fields.message),
      /^an earlier start in this same process \(pid 21, up since .*\), restarted after its store failed, did not stop cleanly/,
    )
    await next.stop()
  }))

test('an old marker is told once, even when this run cannot write its own', () =>
  inTempDir(async (dir) => {
    const log = recordingLogger()
    await writeFile(join(dir.path, 'running.json'), '{}')
    await mkdir(join(dir.path, 'running.json.tmp'))
    const first = await markRun({ dataDir: dir.path, clock: fakeClock(START), log })
    assert.is(log.events('unclean-stop').length, 1)
    assert.is(log.events('run-marker-failed').length, 1)
    await first.stop()
    await markRun({ dataDir: dir.path, clock: fakeClock(START), log }).then((m) => m.stop())
    assert.is(log.events('unclean-stop').length, 1, 'not told again')
  }))

test.run()
