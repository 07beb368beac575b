import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ProgressFeed } from '../../src/downloads/progress-feed.ts'
import type { DownloadEvent } from '../../src/downloads/service.ts'
import type { Download } from '../../src/store/record.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'
import { download } from '../helpers/records.ts'

/** The records the feed reads, set by the test as the log would change them. */
function records() {
  const byId = new Map<string, Download>()
  return {
    set: (d: Download) => byId.set(d.id, d),
    get: (id: string) => byId.get(id) ?? null,
    forUser: (userId: string) => [...byId.values()].find((d) => d.userId === userId) ?? null,
  }
}

function setup() {
  const recs = records()
  const interest: string[] = []
  const log = recordingLogger()
  const feed = new ProgressFeed({
    records: recs,
    interest: {
      watch: (u) => interest.push(`+${u}`),
      unwatch: (u) => interest.push(`-${u}`),
    },
    log,
  })
  const seen: DownloadEvent[] = []
  const progress = () =>
    seen.flatMap((e) => (e.type === 'download' && e.download ? [e.download.progress] : []))
  return { recs, interest, log, feed, seen, progress }
}

const running = (over: Partial<Download> = {}) =>
  download({ id: 'd1', userId: 'u1', state: 'processing', progress: 20, epoch: 1, ...over })

test('a tick ahead of the checkpoint is shown with the time it was measured', () => {
  const s = setup()
  s.recs.set(running())
  s.feed.subscribe('u1', { onDownloadEvent: (e) => s.seen.push(e) })
  s.feed.tick({ id: 'd1', userId: 'u1', epoch: 1, progress: 27, at: 5000 })
  const view = s.feed.current('u1')!
  assert.is(view.progress, 27)
  assert.is(view.progressAt, 5000)
  assert.equal(s.progress(), [27])
})

test('a tick that arrives before the worker’s start has replicated shows the download running', () => {
  const s = setup()
  s.recs.set(running({ state: 'pending', progress: 0 }))
  s.feed.tick({ id: 'd1', userId: 'u1', epoch: 1, progress: 30, at: 5 })
  assert.equal([s.feed.current('u1')?.state, s.feed.current('u1')?.progress], ['processing', 30])
})

test('a tick from a replaced owner (older epoch) is dropped', () => {
  const s = setup()
  s.recs.set(running({ epoch: 2, progress: 30 }))
  s.feed.subscribe('u1', { onDownloadEvent: (e) => s.seen.push(e) })
  s.feed.tick({ id: 'd1', userId: 'u1', epoch: 1, progress: 80, at: 1 })
  assert.is(s.feed.current('u1')!.progress, 30)
  assert.is(s.seen.length, 0)
})

test('after a takeover behind what was shown, the bar holds until the successor passes it', () => {
  const s = setup()
  s.recs.set(running({ progress: 30 }))
  s.feed.subscribe('u1', { onDownloadEvent: (e) => s.seen.push(e) })
  s.feed.tick({ id: 'd1', userId: 'u1', epoch: 1, progress: 48, at: 1 })
  // The owner died; the successor resumes from the 30 % checkpoint at epoch 2.
  s.recs.set(running({ progress: 30, epoch: 2 }))
  s.feed.notify('u1')
  s.feed.tick({ id: 'd1', userId: 'u1', epoch: 2, progress: 35, at: 2 })
  s.feed.tick({ id: 'd1', userId: 'u1', epoch: 2, progress: 52, at: 3 })
  // The takeover itself is news (epoch 2), shown at the held 48 %, never at 30 % or 35 %,
  // with what the successor resumed from beside it while it is held.
  assert.equal(s.progress(), [48, 48, 52])
  const sent = s.seen.flatMap((e) => (e.type === 'download' && e.download ? [e.download] : []))
  assert.equal(
    sent.map((d) => d.savedProgress),
    [undefined, 30, undefined],
  )
  assert.is(s.feed.current('u1')!.epoch, 2)
})

test('an unchanged view is not sent twice, and an older tick of the same epoch is ignored', () => {
  const s = setup()
  s.recs.set(running())
  s.feed.subscribe('u1', { onDownloadEvent: (e) => s.seen.push(e) })
  s.feed.tick({ id: 'd1', userId: 'u1', epoch: 1, progress: 40, at: 1 })
  s.feed.tick({ id: 'd1', userId: 'u1', epoch: 1, progress: 35, at: 2 })
  s.feed.notify('u1')
  assert.equal(s.progress(), [40])
})

test('a finished download is shown as the log has it, whatever ticks said', () => {
  const s = setup()
  s.recs.set(running())
  s.feed.tick({ id: 'd1', userId: 'u1', epoch: 1, progress: 60, at: 1 })
  s.recs.set(running({ state: 'error', progress: 50, error: 'boom' }))
  assert.equal([s.feed.current('u1')!.state, s.feed.current('u1')!.progress], ['error', 50])
  s.feed.tick({ id: 'd1', userId: 'u1', epoch: 1, progress: 70, at: 2 })
  assert.is(s.feed.current('u1')!.progress, 50)
})

test('the first socket of a user asks for its ticks, the last one to go gives them up', () => {
  const s = setup()
  s.recs.set(running())
  const [one, two] = [{ onDownloadEvent: () => {} }, { onDownloadEvent: () => {} }]
  s.feed.subscribe('u1', one)
  s.feed.subscribe('u1', two)
  s.feed.unsubscribe('u1', one)
  assert.equal(s.interest, ['+u1'])
  s.feed.unsubscribe('u1', two)
  s.feed.unsubscribe('u1', two)
  assert.equal(s.interest, ['+u1', '-u1'], 'unsubscribing twice changes nothing')
})

test('a listener that throws is logged and does not keep the event from the others', () => {
  const s = setup()
  s.recs.set(running())
  s.feed.subscribe('u1', {
    onDownloadEvent: () => {
      throw new Error('socket gone')
    },
  })
  s.feed.subscribe('u1', { onDownloadEvent: (e) => s.seen.push(e) })
  s.feed.emit('u1', { type: 'error', message: 'hello' })
  assert.equal(s.seen, [{ type: 'error', message: 'hello' }])
  assert.equal(
    s.log.events('listener-failed').map((e) => e.fields.error),
    ['socket gone'],
  )
})

test.run()
