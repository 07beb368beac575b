import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { limitRepeats } from '../../src/log-repeats.ts'
import type { Fields, Logger } from '../../src/logger.ts'
import { fakeClock } from '../helpers/clock.ts'

/** The lines as text, without `lastAt` (in `lastAts`, in order). */
function recorder() {
  const lines: string[] = []
  const lastAts: string[] = []
  const at =
    (level: string) =>
    (event: string, { lastAt, ...fields }: Fields = {}) => {
      if (lastAt !== undefined) lastAts.push(String(lastAt))
      lines.push([level, event, ...Object.entries(fields).map(([k, v]) => `${k}=${v}`)].join(' '))
    }
  const log: Logger = { info: at('info'), warn: at('warn'), error: at('error') }
  return { log, lines, lastAts }
}

test('a warning repeated ten times a second is written once, then once a minute with how many were held back', async () => {
  const clock = fakeClock()
  const { log, lines } = recorder()
  const limited = limitRepeats(log, { clock })
  const flood = clock.setInterval(
    () => limited.warn('bad-message', { peer: 'abc', error: `field ${clock.now() % 7}` }),
    100,
  )
  await clock.tick(150_000)
  clock.clearInterval(flood)
  // One at the start, then one a minute (the sweep runs every 15 s, so up to 15 s late).
  assert.is(lines.length, 3)
  assert.match(lines[0]!, /^warn bad-message peer=abc error=field \d$/)
  const counts = lines.slice(1).map((l) => Number(/repeats=(\d+)$/.exec(l)?.[1]))
  assert.ok(
    counts.every((n) => n >= 590 && n <= 760),
    counts.join(' '),
  )
  // The flood stopped: what the last window held comes out within a minute, then nothing.
  await clock.tick(120_000)
  assert.is(lines.length, 4)
  assert.match(lines[3]!, /repeats=\d+$/)
  assert.is(
    lines.slice(1).reduce((n, l) => n + Number(/repeats=(\d+)$/.exec(l)![1]), 0),
    1499,
  )
  limited.close()
})

test('two subjects (downloads, peers) are each told; info lines are never held', async () => {
  const clock = fakeClock()
  const { log, lines } = recorder()
  const limited = limitRepeats(log, { clock })
  for (let i = 0; i < 3; i++) {
    limited.error('supervise-failed', { user: 'u1', error: 'x' })
    limited.error('supervise-failed', { user: 'u2', error: 'x' })
    limited.warn('supervise-failed', { user: 'u1', error: 'x' }) // another level, another line
    limited.info('request', { id: 'd1' })
  }
  assert.equal(lines, [
    'error supervise-failed user=u1 error=x',
    'error supervise-failed user=u2 error=x',
    'warn supervise-failed user=u1 error=x',
    'info request id=d1',
    'info request id=d1',
    'info request id=d1',
  ])
  // A quiet subject is forgotten: after its window, its next line is written at once.
  await clock.tick(61_000)
  assert.equal(lines.slice(6), [
    'error supervise-failed user=u1 error=x repeats=2',
    'error supervise-failed user=u2 error=x repeats=2',
    'warn supervise-failed user=u1 error=x repeats=2',
  ])
  await clock.tick(61_000)
  limited.error('supervise-failed', { user: 'u1', error: 'y' })
  assert.is(lines.at(-1), 'error supervise-failed user=u1 error=y')
  limited.close()
})

test('a line with repeats=N stands for N lines, itself the last, however the window ended', async () => {
  const clock = fakeClock()
  const { log, lines, lastAts } = recorder()
  const limited = limitRepeats(log, { clock })
  limited.warn('a', {}) // starts the sweep's timer: every 15 s from here
  await clock.tick(5000)
  limited.warn('b', { n: 1 }) // b's window: until 65 s
  await clock.tick(5000)
  limited.warn('b', { n: 2 }) // held
  await clock.tick(60_000) // 70 s: b's window is over, and no sweep has run since
  limited.warn('b', { n: 3 })
  assert.equal(lines, ['warn a', 'warn b n=1', 'warn b n=2 repeats=1', 'warn b n=3'])
  // Written a minute later, the line says when the last it stands for came.
  assert.equal(lastAts, [new Date(1_700_000_010_000).toISOString()])
  limited.close()
})

test('close writes what is held back and stops the timer', async () => {
  const clock = fakeClock()
  const { log, lines } = recorder()
  const limited = limitRepeats(log, { clock })
  for (let i = 0; i < 5; i++) limited.warn('stalled', { ms: i })
  limited.close()
  assert.equal(lines, ['warn stalled ms=0', 'warn stalled ms=4 repeats=4'])
  await clock.tick(120_000)
  assert.is(lines.length, 2)
  // After close a line is written as it comes, and starts no timer that would keep the
  // process alive.
  limited.warn('stalled', { ms: 5 })
  limited.warn('stalled', { ms: 6 })
  assert.equal(lines.slice(2), ['warn stalled ms=5', 'warn stalled ms=6'])
})

test('past its limit of subjects, lines are told apart by event only: memory stays bounded', async () => {
  const clock = fakeClock()
  const { log, lines } = recorder()
  const limited = limitRepeats(log, { clock })
  for (let i = 0; i < 20_000; i++) limited.warn('bad-message', { peer: `p${i}` })
  // 10,000 subjects, then one more line for all the rest together.
  assert.is(lines.length, 10_001)
  limited.close()
  assert.match(lines.at(-1)!, /^warn bad-message peer=p19999 repeats=9999$/)
})

test.run()
